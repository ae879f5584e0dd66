//! Jsonnet files of Argo CD `directory` sources, evaluated with jrsonnet the way the
//! repo-server's `makeJsonnetVm` sets up go-jsonnet: `directory.jsonnet.extVars` and `tlas`
//! (each a string, or Jsonnet code when `code` is true), and library paths made of the
//! application directory followed by `libs` (repository-root relative). An import is looked up
//! next to the importing file first, then in the library paths from the last to the first
//! (go-jsonnet's and the C++ implementation's order: the right-most path wins).
//!
//! Every import (`import`, `importstr`, `importbin`) is read through the [`Tree`], so nothing
//! outside the repository is readable: `..` past the root, absolute paths and symlinks out are
//! errors. The result becomes manifests as in Argo CD: an object is one manifest, an array
//! contributes its objects (`null`s skipped); anything else, nested arrays included, is an
//! error, and so is an object without `kind`. `List` objects contribute their items.
//!
//! Evaluation is bounded by [`JsonnetLimits`]: a stack depth (go-jsonnet's default of 500
//! frames) and a cap on the size of the output, checked while the value is turned into JSON
//! so that a huge result fails early instead of exhausting memory. Errors carry the trace as
//! `file:line:column: frame` lines.
//!
//! jrsonnet's state is single-threaded and must own its import resolver, while trees are
//! borrowed: each file is evaluated on a scoped worker thread whose resolver asks the calling
//! thread, which holds the tree, for file contents over a channel.

use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use ferry_api::argocd::ApplicationSourceJsonnet;
use ferry_api::{Classify, Disposition};
use jrsonnet_evaluator::error::ErrorKind;
use jrsonnet_evaluator::tla::TlaArg;
use jrsonnet_evaluator::trace::PathResolver;
use jrsonnet_evaluator::{
    AsPathLike, IStr, ImportResolver, SourcePath, State, Val, apply_tla, ensure_sufficient_stack,
};
use jrsonnet_gcmodule::Acyclic;
use jrsonnet_ir::{SourceFifo, SourceFile};
use serde_json::{Map, Value};

use crate::manifest::{Manifest, push_object};
use crate::tree::{Tree, TreeError, join};

/// Bounds of one evaluation.
#[derive(Clone, Debug)]
pub struct JsonnetLimits {
    /// Maximum depth of the evaluation stack (function calls, object fields, imports).
    pub max_stack: usize,
    /// Maximum size of the output, counted as compact JSON bytes.
    pub max_output_bytes: usize,
}

impl Default for JsonnetLimits {
    fn default() -> Self {
        Self {
            max_stack: 500,
            max_output_bytes: 32 << 20,
        }
    }
}

/// Why a Jsonnet file did not evaluate to manifests.
#[derive(Debug, thiserror::Error)]
pub enum JsonnetError {
    /// Syntax, runtime and import errors; `trace` holds the message and one line per frame.
    #[error("{file}: {trace}")]
    Evaluate {
        /// The file evaluated.
        file: String,
        /// The message and the stack.
        trace: String,
    },
    /// The program's output is larger than the limit.
    #[error("{file}: output exceeds {limit} bytes")]
    OutputTooLarge {
        /// The file evaluated.
        file: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The output is not an object or an array of objects.
    #[error("{file}: {message}")]
    Output {
        /// The file evaluated.
        file: String,
        /// What is wrong with it.
        message: String,
    },
    /// A library path climbs out of the repository.
    #[error("directory.jsonnet.libs: {lib:?} leaves the repository")]
    LibEscapes {
        /// The library path.
        lib: String,
    },
    /// The evaluator failed in itself (it panicked or could not start).
    #[error("{file}: jsonnet evaluation failed: {message}")]
    Internal {
        /// The file evaluated.
        file: String,
        /// What happened.
        message: String,
    },
}

impl Classify for JsonnetError {
    /// The program's result is its source's: evaluating the same files again fails the same
    /// way, an evaluator that panicked on them included.
    fn disposition(&self) -> Disposition {
        Disposition::GiveUp
    }
}

/// Evaluates the Jsonnet file `file` of the application at `app_dir` (both
/// repository-relative) into manifests.
pub fn render_file(
    tree: &dyn Tree,
    file: &str,
    app_dir: &str,
    jsonnet: &ApplicationSourceJsonnet,
    limits: &JsonnetLimits,
) -> Result<Vec<Manifest>, JsonnetError> {
    // go-jsonnet's JPaths are [app dir, libs...] and are searched from the last one.
    let mut search = vec![app_dir.to_string()];
    for lib in &jsonnet.libs {
        let dir = join("", lib).ok_or_else(|| JsonnetError::LibEscapes { lib: lib.clone() })?;
        search.push(dir);
    }
    search.reverse();

    let job = Job {
        file: file.to_string(),
        search,
        jsonnet: jsonnet.clone(),
        limits: limits.clone(),
    };
    let (requests, served) = mpsc::channel::<Message>();
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("jsonnet".into())
            .spawn_scoped(scope, move || {
                let done = requests.clone();
                let result =
                    catch_unwind(AssertUnwindSafe(|| job.run(requests))).unwrap_or_else(|_| {
                        Err(JsonnetError::Internal {
                            file: job.file.clone(),
                            message: "the evaluator panicked".into(),
                        })
                    });
                // The receiver lives until it has this answer.
                let _ = done.send(Message::Done(result));
            })
            .map_err(|e| JsonnetError::Internal {
                file: file.to_string(),
                message: e.to_string(),
            })?;
        let mut result = None;
        for message in &served {
            match message {
                Message::Read(path, reply) => {
                    // The worker may have stopped waiting; then nobody needs the answer.
                    let _ = reply.send(tree.read(&path));
                }
                Message::Done(done) => {
                    result = Some(done);
                    break;
                }
            }
        }
        // A panic was caught inside the worker, so joining only waits for it to exit.
        let _ = worker.join();
        result.unwrap_or_else(|| {
            Err(JsonnetError::Internal {
                file: file.to_string(),
                message: "the evaluator stopped without an answer".into(),
            })
        })
    })
}

enum Message {
    Read(String, mpsc::Sender<Result<Vec<u8>, TreeError>>),
    Done(Result<Vec<Manifest>, JsonnetError>),
}

/// What the worker thread evaluates.
struct Job {
    file: String,
    /// Library paths in search order.
    search: Vec<String>,
    jsonnet: ApplicationSourceJsonnet,
    limits: JsonnetLimits,
}

impl Job {
    fn run(&self, requests: mpsc::Sender<Message>) -> Result<Vec<Manifest>, JsonnetError> {
        let _depth = jrsonnet_evaluator::stack::limit_stack_depth(self.limits.max_stack);
        let context = jrsonnet_stdlib::ContextInitializer::new(PathResolver::Absolute);
        for var in &self.jsonnet.ext_vars {
            if var.code {
                context
                    .add_ext_code(&var.name, &var.value)
                    .map_err(|e| self.evaluate_error(&e))?;
            } else {
                context.add_ext_str(var.name.as_str().into(), var.value.as_str().into());
            }
        }
        // An interned string (`IStr`) hashes by content; clippy only sees its `Rc` inside.
        #[allow(clippy::mutable_key_type)]
        let tlas: HashMap<IStr, TlaArg> = self
            .jsonnet
            .tlas
            .iter()
            .map(|var| {
                let value = if var.code {
                    TlaArg::InlineCode(var.value.clone())
                } else {
                    TlaArg::String(var.value.as_str().into())
                };
                (var.name.as_str().into(), value)
            })
            .collect();
        let mut builder = State::builder();
        builder
            .context_initializer(context)
            .import_resolver(TreeImporter {
                search: self.search.clone(),
                requests,
                pending: RefCell::default(),
            });
        let state = builder.build();
        let Some(_entered) = state.try_enter() else {
            return Err(JsonnetError::Internal {
                file: self.file.clone(),
                message: "another evaluation is active on this thread".into(),
            });
        };
        let entry = SourcePath::new(SourceFile::new(PathBuf::from(&self.file)));
        let value = state
            .import_resolved(entry)
            .and_then(|value| apply_tla(&tlas, value))
            .map_err(|e| self.evaluate_error(&e))?;
        let mut output = Output {
            left: self.limits.max_output_bytes,
        };
        let json = output.value(&value).map_err(|e| match e {
            OutputError::Jsonnet(e) => self.evaluate_error(&e),
            OutputError::TooLarge => JsonnetError::OutputTooLarge {
                file: self.file.clone(),
                limit: self.limits.max_output_bytes,
            },
        })?;
        self.manifests(json)
    }

    fn evaluate_error(&self, error: &jrsonnet_evaluator::Error) -> JsonnetError {
        let mut trace = format_trace(error);
        if matches!(error.error(), ErrorKind::StackOverflow) {
            // jrsonnet's message names its CLI flag; say what the limit is instead.
            let message = error.error().to_string();
            trace = trace.replacen(
                &message,
                &format!(
                    "stack overflow: more than {} nested calls (infinite recursion?)",
                    self.limits.max_stack
                ),
                1,
            );
        }
        JsonnetError::Evaluate {
            file: self.file.clone(),
            trace,
        }
    }

    /// Argo CD's reading of the output: an array of objects, or one object.
    fn manifests(&self, json: Value) -> Result<Vec<Manifest>, JsonnetError> {
        let error = |message: String| JsonnetError::Output {
            file: self.file.clone(),
            message,
        };
        let mut out = Vec::new();
        match json {
            Value::Array(items) => {
                for (i, item) in items.into_iter().enumerate() {
                    match item {
                        Value::Null => {}
                        Value::Object(map) => {
                            check_kind(&map).map_err(|m| error(format!("element {i}: {m}")))?;
                            push_object(&mut out, map);
                        }
                        other => {
                            return Err(error(format!(
                                "element {i} is {}, expected an object",
                                kind_of(&other)
                            )));
                        }
                    }
                }
            }
            Value::Object(map) => {
                check_kind(&map).map_err(error)?;
                push_object(&mut out, map);
            }
            other => {
                return Err(error(format!(
                    "the output is {}, expected an object or an array of objects",
                    kind_of(&other)
                )));
            }
        }
        Ok(out)
    }
}

/// Frames kept at the start and at the end of a long trace.
const TRACE_HEAD: usize = 12;
const TRACE_TAIL: usize = 4;

/// The message, then one `  file:line:column: frame` line per frame, innermost first; runs
/// of one frame (deep recursion) are folded and long traces shortened in the middle.
fn format_trace(error: &jrsonnet_evaluator::Error) -> String {
    let mut frames: Vec<(String, usize)> = Vec::new();
    for frame in &error.trace().0 {
        let line = match &frame.location {
            Some(span) => {
                let [start] = span.0.map_source_locations(&[span.1]);
                let path = span.0.source_path();
                let file = match path.downcast_ref::<SourceFifo>() {
                    Some(inline) => inline.0.clone(),
                    None => path.to_string(),
                };
                format!("{file}:{}:{}: {}", start.line, start.column, frame.desc)
            }
            None => frame.desc.clone(),
        };
        match frames.last_mut() {
            Some((last, count)) if *last == line => *count += 1,
            _ => frames.push((line, 1)),
        }
    }
    let mut out = error.error().to_string();
    let mut write = |(line, count): &(String, usize)| {
        out.push_str("\n  ");
        out.push_str(line);
        if *count > 1 {
            out.push_str(&format!(" ({count} times)"));
        }
    };
    if frames.len() > TRACE_HEAD + TRACE_TAIL + 1 {
        frames[..TRACE_HEAD].iter().for_each(&mut write);
        let hidden = frames.len() - TRACE_HEAD - TRACE_TAIL;
        write(&(format!("... {hidden} more frames"), 1));
        frames[frames.len() - TRACE_TAIL..]
            .iter()
            .for_each(&mut write);
    } else {
        frames.iter().for_each(write);
    }
    out
}

fn check_kind(map: &Map<String, Value>) -> Result<(), String> {
    match map.get("kind") {
        Some(Value::String(kind)) if !kind.is_empty() => Ok(()),
        _ => Err("the object has no kind".into()),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Resolves and reads imports through the tree held by the calling thread.
#[derive(Acyclic)]
struct TreeImporter {
    search: Vec<String>,
    requests: mpsc::Sender<Message>,
    /// Contents read while resolving, handed over on load.
    pending: RefCell<HashMap<String, Vec<u8>>>,
}

impl TreeImporter {
    fn read(&self, path: &str) -> Result<Vec<u8>, TreeError> {
        let (reply, answer) = mpsc::channel();
        let gone = || TreeError::Io {
            path: path.to_string(),
            source: std::io::Error::other("the tree reader stopped"),
        };
        self.requests
            .send(Message::Read(path.to_string(), reply))
            .map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }
}

fn import_error(message: String) -> jrsonnet_evaluator::Error {
    ErrorKind::ImportCallbackError(message).into()
}

impl ImportResolver for TreeImporter {
    fn resolve_from(
        &self,
        from: &SourcePath,
        path: &dyn AsPathLike,
    ) -> jrsonnet_evaluator::Result<SourcePath> {
        let requested = path.as_path();
        let requested: &Path = requested.as_ref();
        let Some(requested) = requested.to_str() else {
            return Err(import_error(format!(
                "import {}: the path is not UTF-8",
                requested.display()
            )));
        };
        let from_name = from.to_string();
        if requested.is_empty() {
            return Err(import_error(format!(
                "import \"\" from {from_name}: the empty string is not a file name"
            )));
        }
        if requested.starts_with('/') {
            return Err(import_error(format!(
                "import {requested:?} from {from_name}: absolute paths leave the repository"
            )));
        }
        let own_dir = from
            .downcast_ref::<SourceFile>()
            .and_then(|f| f.path().to_str())
            .map(|f| f.rsplit_once('/').map_or("", |(dir, _)| dir).to_string());
        for dir in own_dir.iter().chain(&self.search) {
            let Some(candidate) = join(dir, requested) else {
                return Err(import_error(format!(
                    "import {requested:?} from {from_name}: path leaves the repository"
                )));
            };
            match self.read(&candidate) {
                Ok(bytes) => {
                    self.pending.borrow_mut().insert(candidate.clone(), bytes);
                    return Ok(SourcePath::new(SourceFile::new(PathBuf::from(candidate))));
                }
                Err(TreeError::NotFound(_)) => {}
                Err(e) => {
                    return Err(import_error(format!(
                        "import {requested:?} from {from_name}: {e}"
                    )));
                }
            }
        }
        Err(import_error(format!(
            "import {requested:?} from {from_name}: no such file next to it or in the library paths"
        )))
    }

    fn load_file_contents(&self, resolved: &SourcePath) -> jrsonnet_evaluator::Result<Vec<u8>> {
        if let Some(inline) = resolved.downcast_ref::<SourceFifo>() {
            // Code of `tlas`/`extVars` with `code: true`.
            return Ok(inline.1.to_vec());
        }
        let Some(path) = resolved
            .downcast_ref::<SourceFile>()
            .and_then(|f| f.path().to_str())
        else {
            return Err(import_error(format!("{resolved}: not a repository file")));
        };
        if let Some(bytes) = self.pending.borrow_mut().remove(path) {
            return Ok(bytes);
        }
        self.read(path).map_err(|e| import_error(e.to_string()))
    }
}

enum OutputError {
    Jsonnet(jrsonnet_evaluator::Error),
    TooLarge,
}

impl From<jrsonnet_evaluator::Error> for OutputError {
    fn from(e: jrsonnet_evaluator::Error) -> Self {
        Self::Jsonnet(e)
    }
}

/// Turns a value into JSON, forcing lazy fields and elements, within a byte budget.
struct Output {
    left: usize,
}

impl Output {
    fn take(&mut self, bytes: usize) -> Result<(), OutputError> {
        self.left = self.left.checked_sub(bytes).ok_or(OutputError::TooLarge)?;
        Ok(())
    }

    fn value(&mut self, value: &Val) -> Result<Value, OutputError> {
        let _frame =
            jrsonnet_evaluator::stack::check_depth().map_err(|e| OutputError::Jsonnet(e.into()))?;
        ensure_sufficient_stack(|| self.value_inner(value))
    }

    fn value_inner(&mut self, value: &Val) -> Result<Value, OutputError> {
        Ok(match value {
            Val::Null => {
                self.take(4)?;
                Value::Null
            }
            Val::Bool(b) => {
                self.take(5)?;
                Value::Bool(*b)
            }
            Val::Num(n) => {
                self.take(8)?;
                number(n.get())
            }
            Val::Str(s) => {
                let s = s.clone().into_flat();
                self.take(s.len() + 2)?;
                Value::String(s.to_string())
            }
            Val::Arr(items) => {
                self.take(2)?;
                let mut out = Vec::new();
                for item in items.iter() {
                    self.take(1)?;
                    out.push(self.value(&item?)?);
                }
                Value::Array(out)
            }
            Val::Obj(object) => {
                self.take(2)?;
                object.run_assertions()?;
                let mut out = Map::new();
                for (name, field) in object.iter() {
                    self.take(name.len() + 4)?;
                    let field = self.value(&field?)?;
                    out.insert(name.to_string(), field);
                }
                Value::Object(out)
            }
            Val::Func(_) => {
                return Err(OutputError::Jsonnet(
                    ErrorKind::RuntimeError("couldn't manifest a function as JSON".into()).into(),
                ));
            }
        })
    }
}

/// Integers stay integers (as Go's JSON decoding into `unstructured` keeps them).
fn number(n: f64) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if n.fract() == 0.0 && n.abs() <= EXACT {
        #[allow(clippy::cast_possible_truncation)]
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}
