//! The model backends against the real things: a local HTTP server that
//! speaks the OpenAI and Anthropic wire formats, and the real
//! SmolLM2-135M-Instruct GGUF for the local backend.

#![allow(clippy::unwrap_used)]

mod anthropic;
mod bench;
mod boundary;
mod local;
mod openai;
mod research;
mod support;
