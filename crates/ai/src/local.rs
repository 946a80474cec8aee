//! A GGUF model run in-process with candle (feature `local-llm`). Everything
//! the model needs comes from the one file: the weights (quantized llama
//! architecture), the BPE tokenizer (`tokenizer.ggml.*`) and the chat
//! template (`tokenizer.chat_template`; ChatML and Llama 3 are supported).
//!
//! Generation runs on a blocking thread so it never stalls the async
//! runtime, and each token can be streamed to a callback as it is made.
//!
//! Small models often fail to write the JSON the prompt asks for. When the
//! model finished on its own but the JSON does not parse, the draft is
//! salvaged as plain sentences **with no sources** (the `text` values of
//! broken JSON, or the prose itself), so governance sees every sentence as
//! ungrounded and flags it; nothing the model claims about its sources is
//! trusted then. A model cut off at `max_tokens` mid-JSON is an
//! [`OutputError::Truncated`], and one that said nothing is
//! [`OutputError::Empty`].

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::models::quantized_llama::ModelWeights;
use handoff_domain::drafting::{ModelDraft, ModelInput, OutputError, SentenceTrace, Usage, prompt};
use handoff_domain::playbook::ModelConfig;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

use crate::{DraftError, Drafter};

const BACKEND: &str = "local";

/// Sampling and limits for local generation.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalConfig {
    pub model_path: PathBuf,
    /// 0 picks the likeliest token every time.
    pub temperature: f64,
    pub top_p: Option<f64>,
    pub max_tokens: u32,
    /// Above 1 discourages repeating recent tokens (small models loop).
    pub repeat_penalty: f32,
    pub repeat_last_n: usize,
}

impl LocalConfig {
    pub fn new(model_path: impl Into<PathBuf>) -> Self {
        LocalConfig {
            model_path: model_path.into(),
            temperature: 0.4,
            top_p: Some(0.9),
            max_tokens: 512,
            repeat_penalty: 1.1,
            repeat_last_n: 64,
        }
    }

    /// From the playbook's `[model]`; `model_path` is relative to `base_dir`.
    pub fn from_model_config(config: &ModelConfig, base_dir: &Path) -> Result<Self, DraftError> {
        let path = config.model_path.as_deref().ok_or_else(|| {
            DraftError::Config(
                "local: [model] needs model_path = \"models/model.gguf\", a GGUF file".into(),
            )
        })?;
        let mut local = LocalConfig::new(base_dir.join(path));
        if let Some(t) = config.temperature {
            local.temperature = t;
        }
        if config.top_p.is_some() {
            local.top_p = config.top_p;
        }
        if let Some(n) = config.max_tokens {
            local.max_tokens = n;
        }
        Ok(local)
    }
}

/// How the chat is laid out as text before tokenizing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatTemplate {
    /// `<|im_start|>role\n…<|im_end|>\n` (SmolLM, Qwen, many others).
    ChatMl,
    /// `<|start_header_id|>role<|end_header_id|>\n\n…<|eot_id|>`.
    Llama3,
}

impl ChatTemplate {
    /// Recognises the template by its markers; the Jinja itself is not run.
    pub fn detect(template: &str) -> Option<ChatTemplate> {
        if template.contains("<|im_start|>") && template.contains("<|im_end|>") {
            Some(ChatTemplate::ChatMl)
        } else if template.contains("<|start_header_id|>") && template.contains("<|eot_id|>") {
            Some(ChatTemplate::Llama3)
        } else {
            None
        }
    }

    /// The conversation so far, ending where the assistant starts writing.
    pub fn render(self, system: &str, user: &str) -> String {
        match self {
            ChatTemplate::ChatMl => format!(
                "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
            ),
            ChatTemplate::Llama3 => format!(
                "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n{user}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
            ),
        }
    }

    fn end_of_turn(self) -> &'static str {
        match self {
            ChatTemplate::ChatMl => "<|im_end|>",
            ChatTemplate::Llama3 => "<|eot_id|>",
        }
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The model ended its turn.
    EndOfTurn,
    /// `max_tokens` ran out first.
    MaxTokens,
}

/// One generation's text and accounting.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub text: String,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    pub stop: Stop,
    pub elapsed: Duration,
}

/// A loaded GGUF model: weights, tokenizer and chat template. Cheap to
/// share: each generation works on its own copy of the (reference-counted)
/// weights and KV cache.
pub struct LocalModel {
    weights: ModelWeights,
    tokenizer: Tokenizer,
    template: ChatTemplate,
    stop_ids: Vec<u32>,
    add_bos: Option<u32>,
    context_length: usize,
    name: String,
    device: Device,
}

impl std::fmt::Debug for LocalModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalModel")
            .field("name", &self.name)
            .field("template", &self.template)
            .field("context_length", &self.context_length)
            .finish_non_exhaustive()
    }
}

impl LocalModel {
    /// Reads a GGUF file. Errors name the file and what is missing.
    pub fn load(path: &Path) -> Result<LocalModel, DraftError> {
        let config =
            |detail: String| DraftError::Config(format!("local: {}: {detail}", path.display()));
        let mut file = File::open(path).map_err(|e| {
            config(format!(
                "cannot open the model file ({e}); set model_path in [model] to a .gguf file"
            ))
        })?;
        let content = gguf_file::Content::read(&mut file)
            .map_err(|e| config(format!("not a readable GGUF file: {e}")))?;
        let meta = Metadata(&content.metadata);
        let arch = meta.string("general.architecture").unwrap_or("unknown");
        if arch != "llama" {
            return Err(config(format!(
                "the architecture is {arch:?}; this backend runs llama-architecture GGUFs (Llama, SmolLM, Mistral)"
            )));
        }
        let tokenizer = build_tokenizer(&meta).map_err(config)?;
        let template_text = meta.string("tokenizer.chat_template").ok_or_else(|| {
            config("the file has no tokenizer.chat_template, so the chat layout is unknown; use an instruct (chat) model".into())
        })?;
        let template = ChatTemplate::detect(template_text).ok_or_else(|| {
            config(format!(
                "its chat template is not one this backend knows (ChatML or Llama 3): {}",
                crate::http::excerpt(template_text)
            ))
        })?;
        let mut stop_ids: Vec<u32> = Vec::new();
        if let Some(eos) = meta.u32("tokenizer.ggml.eos_token_id") {
            stop_ids.push(eos);
        }
        for marker in [template.end_of_turn(), "<|endoftext|>", "<|end_of_text|>"] {
            if let Some(id) = tokenizer.token_to_id(marker)
                && !stop_ids.contains(&id)
            {
                stop_ids.push(id);
            }
        }
        let add_bos = match (meta.bool("tokenizer.ggml.add_bos_token"), template) {
            // The Llama 3 layout writes <|begin_of_text|> itself.
            (Some(true), ChatTemplate::ChatMl) => meta.u32("tokenizer.ggml.bos_token_id"),
            _ => None,
        };
        let context_length = meta.u32("llama.context_length").unwrap_or(2048) as usize;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "local".to_string());
        let device = Device::Cpu;
        let weights = load_weights(content, &mut file, &device)
            .map_err(|e| config(format!("the weights cannot be loaded: {e}")))?;
        Ok(LocalModel {
            weights,
            tokenizer,
            template,
            stop_ids,
            add_bos,
            context_length,
            name,
            device,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn template(&self) -> ChatTemplate {
        self.template
    }

    pub fn context_length(&self) -> usize {
        self.context_length
    }

    /// Token ids for `text`; chat markers such as `<|im_start|>` become
    /// their single special token.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, DraftError> {
        self.tokenizer
            .encode(text, false)
            .map(|encoding| encoding.get_ids().to_vec())
            .map_err(|e| {
                DraftError::Config(format!("local: the tokenizer failed on the prompt: {e}"))
            })
    }

    /// Text for `ids`, special tokens left out.
    pub fn decode(&self, ids: &[u32]) -> Result<String, DraftError> {
        self.tokenizer
            .decode(ids, true)
            .map_err(|e| DraftError::Config(format!("local: the tokenizer cannot decode: {e}")))
    }

    /// Generates the assistant's turn for `system` + `user`, calling
    /// `on_token` with each piece of text as soon as it is whole (a
    /// multi-byte character split over tokens arrives in one piece).
    /// Blocking and CPU-bound: call it from a blocking thread.
    pub fn generate(
        &self,
        system: &str,
        user: &str,
        settings: &LocalConfig,
        seed: u64,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<Generation, DraftError> {
        let started = Instant::now();
        let failed = |e: candle_core::Error| DraftError::Unavailable {
            backend: BACKEND,
            detail: format!("generation failed in {}: {e}", self.name),
        };
        let chat = self.template.render(system, user);
        let mut prompt_ids = Vec::with_capacity(1024);
        prompt_ids.extend(self.add_bos);
        prompt_ids.extend(self.encode(&chat)?);
        let max_new = settings.max_tokens as usize;
        if prompt_ids.len() + max_new > self.context_length {
            return Err(DraftError::Config(format!(
                "local: the prompt is {} tokens and max_tokens is {max_new}, more than {}'s context of {} tokens; lower max_tokens or use a model with a longer context",
                prompt_ids.len(),
                self.name,
                self.context_length
            )));
        }
        let sampling = if settings.temperature <= 0.0 {
            Sampling::ArgMax
        } else {
            match settings.top_p {
                Some(p) if p < 1.0 => Sampling::TopP {
                    p,
                    temperature: settings.temperature,
                },
                _ => Sampling::All {
                    temperature: settings.temperature,
                },
            }
        };
        let mut sampler = LogitsProcessor::from_sampling(seed, sampling);
        // Each generation gets its own KV cache; the weight tensors are
        // shared by reference count.
        let mut weights = self.weights.clone();
        weights.clear_kv_cache();
        let mut stream = self.tokenizer.decode_stream(true);
        let mut generated: Vec<u32> = Vec::with_capacity(max_new);
        let mut text = String::new();
        let mut stop = Stop::MaxTokens;
        let mut input = Tensor::new(prompt_ids.as_slice(), &self.device)
            .and_then(|t| t.unsqueeze(0))
            .map_err(failed)?;
        let mut position = 0;
        while generated.len() < max_new {
            let logits = weights
                .forward(&input, position)
                .and_then(|l| l.squeeze(0))
                .map_err(failed)?;
            position += input.dim(1).map_err(failed)?;
            let logits = if settings.repeat_penalty > 1.0 && !generated.is_empty() {
                let start = generated.len().saturating_sub(settings.repeat_last_n);
                candle_transformers::utils::apply_repeat_penalty(
                    &logits,
                    settings.repeat_penalty,
                    &generated[start..],
                )
                .map_err(failed)?
            } else {
                logits
            };
            let next = sampler.sample(&logits).map_err(failed)?;
            if self.stop_ids.contains(&next) {
                stop = Stop::EndOfTurn;
                break;
            }
            generated.push(next);
            let piece = stream.step(next).map_err(|e| DraftError::Unavailable {
                backend: BACKEND,
                detail: format!("the tokenizer cannot decode token {next}: {e}"),
            })?;
            if let Some(piece) = piece {
                on_token(&piece);
                text.push_str(&piece);
            }
            input = Tensor::new(&[next], &self.device)
                .and_then(|t| t.unsqueeze(0))
                .map_err(failed)?;
        }
        Ok(Generation {
            text,
            prompt_tokens: prompt_ids.len(),
            generated_tokens: generated.len(),
            stop,
            elapsed: started.elapsed(),
        })
    }
}

/// Quantized types candle 0.11 multiplies with scalar code only (no
/// AVX2/NEON kernel). Q4_1, the format of the test model, is one.
fn slow_on_cpu(dtype: GgmlDType) -> bool {
    matches!(
        dtype,
        GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1 | GgmlDType::Q8_1
    )
}

/// The model's weights. Tensors of a type candle has no SIMD kernel for
/// are requantized to Q8_0 (which has one) while loading: nearly lossless,
/// about twice the memory of Q4_1, and several times faster. The rewritten
/// file is built in memory, so for a while both copies are held.
fn load_weights(
    content: gguf_file::Content,
    file: &mut File,
    device: &Device,
) -> candle_core::Result<ModelWeights> {
    let requantize = |info: &gguf_file::TensorInfo| {
        slow_on_cpu(info.ggml_dtype)
            && info
                .shape
                .dims()
                .last()
                .is_some_and(|k| k % GgmlDType::Q8_0.block_size() == 0)
    };
    if !content.tensor_infos.values().any(requantize) {
        return ModelWeights::from_gguf(content, file, device);
    }
    let mut tensors: Vec<(String, QTensor)> = Vec::with_capacity(content.tensor_infos.len());
    for (name, info) in &content.tensor_infos {
        let tensor = content.tensor(file, name, device)?;
        let tensor = if requantize(info) {
            QTensor::quantize(&tensor.dequantize(device)?, GgmlDType::Q8_0)?
        } else {
            tensor
        };
        tensors.push((name.clone(), tensor));
    }
    let mut buffer = std::io::Cursor::new(Vec::new());
    {
        let metadata: Vec<(&str, &gguf_file::Value)> = content
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        gguf_file::write(&mut buffer, &metadata, &refs)?;
    }
    drop(tensors);
    buffer.set_position(0);
    let content = gguf_file::Content::read(&mut buffer)?;
    ModelWeights::from_gguf(content, &mut buffer, device)
}

struct Metadata<'a>(&'a std::collections::HashMap<String, gguf_file::Value>);

impl Metadata<'_> {
    fn string(&self, key: &str) -> Option<&str> {
        self.0.get(key)?.to_string().ok().map(String::as_str)
    }

    fn u32(&self, key: &str) -> Option<u32> {
        self.0.get(key)?.to_u32().ok()
    }

    fn bool(&self, key: &str) -> Option<bool> {
        self.0.get(key)?.to_bool().ok()
    }

    fn strings(&self, key: &str) -> Result<Vec<&str>, String> {
        let values = self
            .0
            .get(key)
            .ok_or_else(|| format!("the tokenizer is incomplete: {key} is missing"))?
            .to_vec()
            .map_err(|_| format!("{key} is not a list"))?;
        values
            .iter()
            .map(|v| {
                v.to_string()
                    .map(String::as_str)
                    .map_err(|_| format!("{key} holds a value that is not text"))
            })
            .collect()
    }
}

// The pre-tokenizer split patterns llama.cpp uses for these `tokenizer.ggml.pre` names.
const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The byte-level BPE tokenizer described by the GGUF's own metadata: no
/// tokenizer.json is needed.
fn build_tokenizer(meta: &Metadata<'_>) -> Result<Tokenizer, String> {
    match meta.string("tokenizer.ggml.model") {
        Some("gpt2") => {}
        Some(other) => {
            return Err(format!(
                "its tokenizer is {other:?}; this backend reads byte-level BPE (\"gpt2\") tokenizers, as SmolLM and Llama 3 use"
            ));
        }
        None => return Err("tokenizer.ggml.model is missing".into()),
    }
    let tokens = meta.strings("tokenizer.ggml.tokens")?;
    let merges = meta.strings("tokenizer.ggml.merges")?;
    let vocab: tokenizers::models::bpe::Vocab = tokens
        .iter()
        .enumerate()
        .map(|(id, token)| (token.to_string(), id as u32))
        .collect();
    let merges: Vec<(String, String)> = merges
        .iter()
        .map(|merge| {
            merge
                .split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| {
                    format!("tokenizer.ggml.merges has an entry without a space: {merge:?}")
                })
        })
        .collect::<Result<_, _>>()?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| format!("the BPE tokenizer cannot be built: {e}"))?;
    let mut tokenizer = Tokenizer::new(bpe);
    let byte_level = |use_regex| ByteLevel::new(false, true, use_regex);
    let pre = meta.string("tokenizer.ggml.pre").unwrap_or("default");
    match pre {
        // SmolLM: each digit alone, then GPT-2's byte-level split.
        "smollm" => {
            tokenizer.with_pre_tokenizer(Some(Sequence::new(vec![
                Digits::new(true).into(),
                byte_level(true).into(),
            ])));
        }
        "default" | "gpt2" | "gpt-2" => {
            tokenizer.with_pre_tokenizer(Some(byte_level(true)));
        }
        "llama3" | "llama-bpe" | "llama-v3" => {
            let split = Split::new(
                SplitPattern::Regex(LLAMA3_SPLIT.into()),
                SplitDelimiterBehavior::Isolated,
                false,
            )
            .map_err(|e| format!("the llama3 split pattern does not compile: {e}"))?;
            tokenizer.with_pre_tokenizer(Some(Sequence::new(vec![
                split.into(),
                byte_level(false).into(),
            ])));
        }
        other => {
            return Err(format!(
                "its pre-tokenizer {other:?} is not one this backend knows (smollm, gpt2, llama-bpe); text would be split wrongly"
            ));
        }
    }
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    // Control and user-defined tokens (types 3 and 4) are whole markers
    // such as <|im_start|>: never split, left out when decoding.
    let types = meta
        .0
        .get("tokenizer.ggml.token_type")
        .and_then(|v| v.to_vec().ok());
    let special: Vec<AddedToken> = match types {
        Some(types) => tokens
            .iter()
            .zip(types)
            .filter(|(_, kind)| matches!(kind.to_i32(), Ok(3 | 4)))
            .map(|(token, _)| AddedToken::from(token.to_string(), true))
            .collect(),
        None => tokens
            .iter()
            .filter(|t| t.starts_with("<|") && t.ends_with("|>"))
            .map(|token| AddedToken::from(token.to_string(), true))
            .collect(),
    };
    tokenizer
        .add_special_tokens(special)
        .map_err(|e| format!("the special tokens cannot be registered: {e}"))?;
    Ok(tokenizer)
}

/// The local backend: a shared [`LocalModel`] and its sampling settings.
/// Clones share the model and run one generation at a time: generation
/// already uses every core, so parallel runs would only add KV caches.
#[derive(Debug, Clone)]
pub struct LocalDrafter {
    model: Arc<LocalModel>,
    config: LocalConfig,
    turn: Arc<tokio::sync::Semaphore>,
}

impl LocalDrafter {
    /// Loads `config.model_path` (a few seconds for a large file).
    pub fn load(config: LocalConfig) -> Result<Self, DraftError> {
        let model = LocalModel::load(&config.model_path)?;
        Ok(LocalDrafter::with_model(Arc::new(model), config))
    }

    pub fn with_model(model: Arc<LocalModel>, config: LocalConfig) -> Self {
        LocalDrafter {
            model,
            config,
            turn: Arc::new(tokio::sync::Semaphore::new(1)),
        }
    }

    pub fn model(&self) -> &Arc<LocalModel> {
        &self.model
    }

    /// Drafts like [`Drafter::draft`], handing each generated piece of
    /// text to `on_token` as it is made (e.g. to send down a channel).
    pub async fn draft_streaming(
        &self,
        input: &ModelInput,
        seed: u64,
        mut on_token: impl FnMut(&str) + Send + 'static,
    ) -> Result<ModelDraft, DraftError> {
        let prompt = prompt::render(input);
        let _turn = self
            .turn
            .acquire()
            .await
            .map_err(|_| DraftError::Unavailable {
                backend: BACKEND,
                detail: "the local model is shutting down".into(),
            })?;
        let model = Arc::clone(&self.model);
        let config = self.config.clone();
        let generation = tokio::task::spawn_blocking(move || {
            model.generate(&prompt.system, &prompt.user, &config, seed, &mut on_token)
        })
        .await
        .map_err(|e| DraftError::Unavailable {
            backend: BACKEND,
            detail: format!("the generation thread stopped: {e}"),
        })??;
        tracing::debug!(
            model = %self.model.name,
            prompt_tokens = generation.prompt_tokens,
            generated_tokens = generation.generated_tokens,
            elapsed_ms = generation.elapsed.as_millis() as u64,
            "local generation done"
        );
        draft_from_generation(&generation, &self.model.name).map_err(|source| DraftError::Output {
            backend: BACKEND,
            task: crate::Task::Draft,
            source,
        })
    }
}

#[async_trait]
impl Drafter for LocalDrafter {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn draft(&self, input: &ModelInput, seed: u64) -> Result<ModelDraft, DraftError> {
        self.draft_streaming(input, seed, |_| {}).await
    }
}

/// The generated text as a draft: the JSON when it parses, otherwise (the
/// model finished but wrote something else) its sentences with no sources.
pub fn draft_from_generation(
    generation: &Generation,
    model: &str,
) -> Result<ModelDraft, OutputError> {
    let usage = Usage {
        input_tokens: generation.prompt_tokens as u64,
        output_tokens: generation.generated_tokens as u64,
        // Local compute has no per-token price.
        cost_usd: None,
    };
    let text = generation.text.trim();
    if text.is_empty() {
        return Err(OutputError::Empty);
    }
    match ModelDraft::from_model_json(text, model, usage) {
        Ok(draft) => Ok(draft),
        Err(error) if generation.stop == Stop::MaxTokens => match error {
            // Valid-but-wrong JSON is not a truncation; anything else is.
            OutputError::NotTheAskedShape { .. } if text.ends_with('}') => Err(error),
            _ => Err(OutputError::Truncated {
                at: text.chars().count(),
            }),
        },
        Err(error) => salvage(text).map_or(Err(error), |(subject, sentences)| {
            Ok(ModelDraft {
                subject,
                sentences,
                model_confidence: None,
                usage,
                model: model.to_string(),
            })
        }),
    }
}

/// Subject and source-less sentences from text that is not the asked JSON:
/// the `subject` and `text` string values of broken JSON, or the prose
/// itself (a leading `Subject:` line becomes the subject).
fn salvage(text: &str) -> Option<(String, Vec<SentenceTrace>)> {
    let looks_like_json = text.starts_with('{') || text.starts_with("```");
    let (subject, body) = if looks_like_json {
        let subject = json_strings(text, "subject")
            .into_iter()
            .next()
            .unwrap_or_default();
        let texts = json_strings(text, "text");
        (subject, texts.join(" "))
    } else {
        let mut lines = text.lines();
        let first = lines.next().unwrap_or_default();
        match first
            .trim()
            .strip_prefix("Subject:")
            .or_else(|| first.trim().strip_prefix("subject:"))
        {
            Some(subject) => (
                subject.trim().to_string(),
                lines.collect::<Vec<_>>().join("\n"),
            ),
            None => (String::new(), text.to_string()),
        }
    };
    let sentences = split_sentences(&body);
    (!sentences.is_empty()).then_some((subject, sentences))
}

/// Every complete JSON string value that follows `"key":` in `text`.
fn json_strings(text: &str, key: &str) -> Vec<String> {
    let needle = format!("\"{key}\"");
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(&needle) {
        rest = &rest[at + needle.len()..];
        let Some(value) = rest.trim_start().strip_prefix(':') else {
            continue;
        };
        let mut values =
            serde_json::Deserializer::from_str(value.trim_start()).into_iter::<String>();
        if let Some(Ok(string)) = values.next()
            && !string.trim().is_empty()
        {
            found.push(string);
        }
    }
    found
}

/// Sentences, one per `.`/`?`/`!` followed by a space, paragraph ends kept
/// as a trailing blank line (the body convention of [`ModelDraft`]).
fn split_sentences(body: &str) -> Vec<SentenceTrace> {
    let mut sentences = Vec::new();
    let paragraphs: Vec<&str> = body
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let count = paragraphs.len();
    for (index, paragraph) in paragraphs.into_iter().enumerate() {
        let mut start = 0;
        let mut pieces = Vec::new();
        let chars: Vec<(usize, char)> = paragraph.char_indices().collect();
        for (i, &(at, c)) in chars.iter().enumerate() {
            let next_is_space = chars.get(i + 1).is_some_and(|(_, n)| n.is_whitespace());
            if matches!(c, '.' | '?' | '!') && next_is_space {
                let end = at + c.len_utf8();
                pieces.push(paragraph[start..end].trim().to_string());
                start = end;
            }
        }
        pieces.push(paragraph[start..].trim().to_string());
        pieces.retain(|p| !p.is_empty());
        let last = pieces.len().saturating_sub(1);
        for (i, piece) in pieces.into_iter().enumerate() {
            let text = if i == last && index + 1 < count {
                format!("{piece}\n\n")
            } else {
                piece
            };
            sentences.push(SentenceTrace {
                text,
                sources: Vec::new(),
            });
        }
    }
    sentences
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generation(text: &str, stop: Stop) -> Generation {
        Generation {
            text: text.to_string(),
            prompt_tokens: 10,
            generated_tokens: 5,
            stop,
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn good_json_is_the_draft() {
        let draft = draft_from_generation(
            &generation(
                r#"{"subject":"Hi","sentences":[{"text":"One.","sources":["vp-1"]}],"confidence":0.4}"#,
                Stop::EndOfTurn,
            ),
            "m",
        )
        .unwrap();
        assert_eq!(draft.cited(), ["vp-1"]);
        assert_eq!(draft.usage.input_tokens, 10);
    }

    #[test]
    fn prose_becomes_ungrounded_sentences() {
        let draft = draft_from_generation(
            &generation(
                "Subject: Quick idea\nHi Ina. We help finance teams close faster!\n\nWorth a call?",
                Stop::EndOfTurn,
            ),
            "m",
        )
        .unwrap();
        assert_eq!(draft.subject, "Quick idea");
        let texts: Vec<&str> = draft.sentences.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Hi Ina.",
                "We help finance teams close faster!\n\n",
                "Worth a call?"
            ]
        );
        assert!(draft.cited().is_empty());
        assert_eq!(draft.model_confidence, None);
    }

    #[test]
    fn broken_json_keeps_its_text_but_not_its_sources() {
        let text = r#"{"subject": "Close faster", "sentences": [{"text": "Acme closes in 3 days.", "sources": ["pp-1"]}, {"text": "Interested?" "sources": []}], "confidence": 0.9"#;
        let draft = draft_from_generation(&generation(text, Stop::EndOfTurn), "m").unwrap();
        assert_eq!(draft.subject, "Close faster");
        assert_eq!(draft.body(), "Acme closes in 3 days. Interested?");
        assert!(
            draft.cited().is_empty(),
            "sources of broken JSON are not trusted"
        );
    }

    #[test]
    fn cut_off_or_empty_output_is_an_error() {
        let cut = r#"{"subject": "Close faster", "sentences": [{"text": "Acme"#;
        assert!(matches!(
            draft_from_generation(&generation(cut, Stop::MaxTokens), "m"),
            Err(OutputError::Truncated { .. })
        ));
        assert_eq!(
            draft_from_generation(&generation("  \n", Stop::EndOfTurn), "m"),
            Err(OutputError::Empty)
        );
        assert!(matches!(
            draft_from_generation(&generation("{\"subject\": 3}", Stop::EndOfTurn), "m"),
            Err(OutputError::NotTheAskedShape { .. })
        ));
    }

    #[test]
    fn templates_are_recognised_by_their_markers() {
        let smollm = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}";
        assert_eq!(ChatTemplate::detect(smollm), Some(ChatTemplate::ChatMl));
        assert_eq!(ChatTemplate::detect("[INST] {{ message }} [/INST]"), None);
        assert_eq!(
            ChatTemplate::ChatMl.render("S", "U"),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"
        );
    }
}
