//! A controller's work loop, keyed by object name: a wake reconciles the object, at most
//! `limit` objects at once and one object never twice at the same time (a wake that comes
//! meanwhile runs it once more right after). Each reconcile says when to run it again; an
//! object has one pending timer, a timer from before its latest reconcile is stale and
//! ignored, so timers never pile up.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

/// What a finished reconcile asks for.
pub struct Outcome {
    /// When to run it again.
    pub requeue_after: Duration,
    /// Whether it wrote the object (its watch copy is stale until the watch delivers the
    /// write; the next reconcile should read it from the API).
    pub wrote: bool,
}

impl Outcome {
    /// For a reconcile that could not write what it found: another try in 5 s.
    pub fn retry_soon() -> Self {
        Outcome {
            requeue_after: Duration::from_secs(5),
            wrote: false,
        }
    }
}

/// Wakes objects of a [`Queue`]; cheap to clone.
#[derive(Clone)]
pub struct Waker(mpsc::UnboundedSender<Message>);

impl Waker {
    /// Reconcile `name` soon.
    pub fn wake(&self, name: impl Into<String>) {
        let _ = self.0.send(Message::Wake {
            name: name.into(),
            generation: None,
        });
    }
}

/// The loop: create it, hand out [`Waker`]s, then [`Queue::run`] it.
pub struct Queue {
    waker: Waker,
    next: mpsc::UnboundedReceiver<Message>,
}

enum Message {
    /// Reconcile an object: from a waker (`generation` is `None`) or its timer.
    Wake {
        name: String,
        generation: Option<u64>,
    },
    /// A reconcile finished; `None` when the object is gone.
    Done { name: String, done: Option<Outcome> },
}

/// The loop's view of one object.
#[derive(Default)]
struct State {
    /// Bumped by each finished reconcile; a timer of an older one is stale.
    generation: u64,
    /// A reconcile is under way.
    running: bool,
    /// A wake came while it was: run again right after.
    again: bool,
    /// The last reconcile wrote the object.
    wrote: bool,
}

impl Default for Queue {
    fn default() -> Self {
        let (sender, next) = mpsc::unbounded_channel();
        Queue {
            waker: Waker(sender),
            next,
        }
    }
}

impl Queue {
    /// A waker for this queue.
    pub fn waker(&self) -> Waker {
        self.waker.clone()
    }

    /// Runs `reconcile(name, after_write)` for every wake until `finished()` says the
    /// controller is done; `reconcile` returns `None` when the object no longer exists.
    pub async fn run<F, Fut>(mut self, limit: usize, reconcile: F, finished: impl Fn() -> bool)
    where
        F: Fn(String, bool) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Option<Outcome>> + Send + 'static,
    {
        let permits = Arc::new(tokio::sync::Semaphore::new(limit));
        let mut states: HashMap<String, State> = HashMap::new();
        while let Some(message) = self.next.recv().await {
            match message {
                Message::Wake { name, generation } => {
                    let state = states.entry(name.clone()).or_default();
                    if generation.is_some_and(|g| g != state.generation) {
                        continue;
                    }
                    if state.running {
                        state.again = true;
                        continue;
                    }
                    state.running = true;
                    let after_write = state.wrote;
                    let (reconcile, permits, sender) =
                        (reconcile.clone(), permits.clone(), self.waker.0.clone());
                    tokio::spawn(async move {
                        let Ok(_permit) = permits.acquire_owned().await else {
                            return;
                        };
                        // A reconcile that panics is tried again, not left running forever.
                        let done = tokio::spawn(reconcile(name.clone(), after_write))
                            .await
                            .unwrap_or_else(|_| Some(Outcome::retry_soon()));
                        let _ = sender.send(Message::Done { name, done });
                    });
                }
                Message::Done { name, done } => {
                    let state = states.entry(name.clone()).or_default();
                    state.running = false;
                    let again = std::mem::take(&mut state.again);
                    let Some(done) = done else {
                        states.remove(&name);
                        if again {
                            self.waker.wake(name);
                        }
                        continue;
                    };
                    state.wrote = done.wrote;
                    state.generation += 1;
                    let generation = Some(state.generation);
                    let delay = if again {
                        Duration::ZERO
                    } else {
                        done.requeue_after
                    };
                    let sender = self.waker.0.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        let _ = sender.send(Message::Wake { name, generation });
                    });
                }
            }
            if finished() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn wakes_during_a_reconcile_run_it_once_more_and_never_twice_at_once() {
        let queue = Queue::default();
        let waker = queue.waker();
        let runs = Arc::new(AtomicUsize::new(0));
        let running = Arc::new(AtomicUsize::new(0));
        let (counted, overlapped) = (runs.clone(), running.clone());
        let reconcile = move |_name: String, _after_write: bool| {
            let (runs, running) = (counted.clone(), overlapped.clone());
            async move {
                assert_eq!(running.fetch_add(1, Ordering::SeqCst), 0, "two at once");
                tokio::time::sleep(Duration::from_millis(50)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                runs.fetch_add(1, Ordering::SeqCst);
                Some(Outcome {
                    requeue_after: Duration::from_secs(3600),
                    wrote: false,
                })
            }
        };
        let stop = runs.clone();
        let loop_ = tokio::spawn(queue.run(4, reconcile, move || stop.load(Ordering::SeqCst) >= 2));
        waker.wake("a");
        tokio::time::sleep(Duration::from_millis(10)).await;
        waker.wake("a");
        waker.wake("a");
        tokio::time::timeout(Duration::from_secs(5), loop_)
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }
}
