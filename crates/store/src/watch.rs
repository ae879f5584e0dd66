//! Live fan-out: the [`Hub`] serializes writes and broadcasts their events; a [`Watch`] replays
//! the backend's log and then follows the broadcast.
//!
//! Ordering: [`Hub::write`] applies and broadcasts under one mutex, so the broadcast carries
//! events in revision order. A watch subscribes *before* it reads the log, so every event is
//! either already in the log when the replay reads it or arrives on the broadcast afterwards;
//! duplicates (revision at or below the last one seen) are skipped. A watch that falls more
//! than the broadcast capacity behind is told so by the channel and catches up from the log.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast::{self, error::RecvError};

use crate::backend::{Backend, Write};
use crate::{Event, Revision, StoreError, StoreResult, StoredObject, WatchFilter};

/// Live events buffered per watch; a watch further behind catches up from the backend log.
const BROADCAST_CAPACITY: usize = 1024;
/// Events read from the backend log per call while catching up.
const REPLAY_BATCH: usize = 512;

/// A backend plus the live event fan-out. [`crate::Store`] is a shared handle to one.
pub(crate) struct Hub {
    backend: Arc<dyn Backend>,
    /// Held across apply + broadcast, so broadcast order is revision order.
    write_lock: Mutex<()>,
    events: broadcast::Sender<Arc<Event>>,
}

impl Hub {
    pub(crate) fn new(backend: Box<dyn Backend>) -> Self {
        let (events, _) = broadcast::channel(BROADCAST_CAPACITY);
        Self {
            backend: Arc::from(backend),
            write_lock: Mutex::new(()),
            events,
        }
    }

    pub(crate) fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    /// Applies `write` and broadcasts its event.
    pub(crate) fn write(&self, write: Write) -> StoreResult<StoredObject> {
        // The guarded data is `()`: a panic elsewhere cannot leave it inconsistent.
        let _serial = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        let event = self.backend.apply(write)?;
        // With no watch subscribed there is nobody to tell; one subscribing right now reads
        // this event from the log, where it already is.
        if self.events.receiver_count() == 0 {
            return Ok(event.object);
        }
        let object = event.object.clone();
        // An error only means every watch has gone in the meantime.
        let _ = self.events.send(Arc::new(event));
        Ok(object)
    }

    pub(crate) fn watch(&self, filter: WatchFilter, after: Revision) -> StoreResult<Watch> {
        let live = self.events.subscribe();
        let compacted = self.backend.compacted_revision()?;
        if after < compacted {
            return Err(StoreError::Expired {
                requested: after,
                compacted,
            });
        }
        Ok(Watch {
            backend: Arc::clone(&self.backend),
            live,
            filter,
            last: after,
            backlog: VecDeque::new(),
            replaying: true,
            done: false,
        })
    }
}

/// A stream of events matching a [`WatchFilter`], in revision order, without gaps: first
/// those already logged, then live ones. Created by [`crate::Store::watch`].
pub struct Watch {
    backend: Arc<dyn Backend>,
    live: broadcast::Receiver<Arc<Event>>,
    filter: WatchFilter,
    /// The highest revision seen, delivered or filtered out.
    last: Revision,
    /// Events read from the log and not yet delivered.
    backlog: VecDeque<Event>,
    /// Whether events come from the log (at start, or after falling behind) or the broadcast.
    replaying: bool,
    /// Set after an error or once the store is gone.
    done: bool,
}

impl Watch {
    /// The next matching event. `None` once the watch has ended: after it returned an error
    /// (for example [`StoreError::Expired`] when it fell behind a compaction; list again and
    /// start a new watch), or when every [`crate::Store`] handle has been dropped.
    ///
    /// Cancel-safe: dropping the future (e.g. in `tokio::select!`) loses no event. Catching up
    /// from the log reads the backend synchronously, in batches.
    pub async fn next(&mut self) -> Option<StoreResult<Event>> {
        loop {
            if self.done {
                return None;
            }
            if let Some(event) = self.backlog.pop_front() {
                match self.accept(event) {
                    Some(event) => return Some(Ok(event)),
                    None => continue,
                }
            }
            if self.replaying {
                if let Err(e) = self.replay() {
                    self.done = true;
                    return Some(Err(e));
                }
                continue;
            }
            match self.live.recv().await {
                Ok(event) if event.revision() <= self.last => {}
                Ok(event) if event.revision() != self.last + 1 => {
                    // Not the next revision: whatever is missing (and this one) is in the log.
                    self.replaying = true;
                }
                Ok(event) => {
                    if let Some(event) = self.accept(Arc::unwrap_or_clone(event)) {
                        return Some(Ok(event));
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, last = self.last, "watch lagged; replaying the log");
                    self.replaying = true;
                }
                Err(RecvError::Closed) => self.done = true,
            }
        }
    }

    /// The highest revision this watch has seen: every matching event at or below it has been
    /// delivered. Starts at the `after` the watch was created with.
    pub fn last_revision(&self) -> Revision {
        self.last
    }

    /// Records `event` as seen; returns it if it is new and matches the filter.
    fn accept(&mut self, event: Event) -> Option<Event> {
        if event.revision() <= self.last {
            return None;
        }
        self.last = event.revision();
        self.filter.matches(&event.object.key).then_some(event)
    }

    /// Reads the next batch of the log; a short batch means the log is drained and every
    /// later event is on the broadcast, which was subscribed before this read.
    fn replay(&mut self) -> StoreResult<()> {
        let batch = self.backend.events_after(self.last, REPLAY_BATCH)?;
        if batch.len() < REPLAY_BATCH {
            self.replaying = false;
        }
        self.backlog.extend(batch);
        Ok(())
    }
}

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watch")
            .field("filter", &self.filter)
            .field("last", &self.last)
            .field("replaying", &self.replaying)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
