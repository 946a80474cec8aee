//! Setting up a workspace from its playbook.

use handoff_domain::Event;
use handoff_domain::playbook::Playbook;
use handoff_store::{CommandContext, SequenceDef, Store, StoreResult};

/// The playbook's sequences as the database stores them.
pub fn sequence_defs(playbook: &Playbook) -> Vec<SequenceDef> {
    playbook
        .sequences
        .iter()
        .map(|(name, sequence)| SequenceDef {
            name: name.clone(),
            sequence_type: sequence.sequence_type.clone(),
            steps: serde_json::to_value(&sequence.steps).unwrap_or_default(),
            step_count: sequence.steps.len(),
        })
        .collect()
}

/// Records a new workspace and its sequences. Safe to repeat: sequences
/// that did not change are not written again.
pub async fn initialize(
    store: &dyn Store,
    ctx: &CommandContext,
    playbook: &Playbook,
) -> StoreResult<u64> {
    store
        .append(
            ctx,
            &Event::WorkspaceInitialized {
                workspace: playbook.workspace.name.clone(),
            },
        )
        .await?;
    store.sync_sequences(ctx, &sequence_defs(playbook)).await
}
