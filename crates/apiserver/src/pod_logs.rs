//! The `pods/log` subresource: `PodLogOptions` from the query (`container`, `previous`,
//! `timestamps`, `tailLines`, `sinceSeconds`/`sinceTime`, `limitBytes`, `follow`) applied to
//! the simulated container's lines ([`crate::sim::logs`]), as `text/plain`. A followed log
//! stays open and gets each new line until the container's run ends, the Pod goes away or
//! is replaced, the client leaves or the server stops.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use ferry_api::meta;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::error::{ApiError, ApiResult};
use crate::objects::Objects;
use crate::resources::ResourceType;
use crate::sim::logs::{ContainerLog, LogLine, container_log};

/// How often a followed log looks for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(250);

/// The query parameters of a log request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogOptions {
    container: Option<String>,
    follow: bool,
    previous: bool,
    timestamps: bool,
    tail_lines: Option<usize>,
    since: Option<DateTime<Utc>>,
    limit_bytes: Option<usize>,
}

impl LogOptions {
    /// The options of a request for `pod`'s log: malformed values are 400, values out of
    /// range 422, as kube-apiserver answers them.
    pub fn from_query(q: &HashMap<String, String>, pod: &str) -> ApiResult<Self> {
        let invalid = |field: &str, why: String| {
            ApiError::invalid_kind("", "PodLogOptions", pod, vec![(field.to_string(), why)])
        };
        let number = |key: &str, min: i64| -> ApiResult<Option<i64>> {
            let Some(raw) = q.get(key).filter(|s| !s.is_empty()) else {
                return Ok(None);
            };
            let n: i64 = raw
                .parse()
                .map_err(|_| ApiError::bad_request(format!("{key}: invalid integer {raw:?}")))?;
            if n < min {
                let bound = if min == 0 {
                    "greater than or equal to 0"
                } else {
                    "greater than 0"
                };
                return Err(invalid(key, format!("Invalid value: {n}: must be {bound}")));
            }
            Ok(Some(n))
        };
        let since_seconds = number("sinceSeconds", 1)?;
        let since_time = match q.get("sinceTime").filter(|s| !s.is_empty()) {
            Some(raw) => Some(
                DateTime::parse_from_rfc3339(raw)
                    .map_err(|e| ApiError::bad_request(format!("sinceTime: {raw:?}: {e}")))?
                    .with_timezone(&Utc),
            ),
            None => None,
        };
        let since = match (since_seconds, since_time) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "[]",
                    "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"
                        .into(),
                ));
            }
            (Some(s), None) => Some(Utc::now() - chrono::Duration::seconds(s)),
            (None, t) => t,
        };
        let to_usize = |n: i64| usize::try_from(n).unwrap_or(usize::MAX);
        Ok(Self {
            container: q.get("container").filter(|c| !c.is_empty()).cloned(),
            follow: go_bool(q, "follow")?,
            previous: go_bool(q, "previous")?,
            timestamps: go_bool(q, "timestamps")?,
            tail_lines: number("tailLines", 0)?.map(to_usize),
            since,
            limit_bytes: number("limitBytes", 1)?.map(to_usize),
        })
    }

    fn render(&self, line: &LogLine) -> String {
        if self.timestamps {
            // The kubelet's RFC3339NanoFixed: always nine fractional digits.
            let time = line
                .time
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            format!("{time} {}\n", line.text)
        } else {
            format!("{}\n", line.text)
        }
    }

    /// The lines of `log` this request shows first: after `since`, the last `tailLines`.
    fn select<'a>(&self, log: &'a ContainerLog) -> Vec<&'a LogLine> {
        let lines: Vec<&LogLine> = log
            .lines
            .iter()
            .filter(|l| self.since.is_none_or(|since| l.time >= since))
            .collect();
        let skip = self.tail_lines.map_or(0, |n| lines.len().saturating_sub(n));
        lines[skip..].to_vec()
    }
}

/// Serves `GET pods/{name}/log`.
pub async fn serve(
    objects: Objects,
    t: Arc<ResourceType>,
    namespace: String,
    name: String,
    opts: LogOptions,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> ApiResult<Response> {
    let pod = read_pod(&objects, &t, &namespace, &name).await?;
    let log = container_log(&pod, opts.container.as_deref(), opts.previous)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let first: Vec<String> = opts.select(&log).iter().map(|l| opts.render(l)).collect();
    if !opts.follow || opts.previous || log.finished {
        return Ok(text_response(Body::from(limit(
            first.concat(),
            opts.limit_bytes,
        ))));
    }
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let pod_uid = meta::uid(&pod).map(str::to_string);
    tokio::spawn(async move {
        let mut budget = opts.limit_bytes;
        let mut sent: HashSet<LogLine> = HashSet::new();
        sent.extend(log.lines.iter().cloned());
        if !send(&tx, first.concat(), &mut budget).await {
            return;
        }
        loop {
            tokio::select! {
                _ = stopped.wait_for(|s| *s) => return,
                _ = tx.closed() => return,
                _ = tokio::time::sleep(FOLLOW_POLL) => {}
            }
            let Ok(pod) = read_pod(&objects, &t, &namespace, &name).await else {
                return;
            };
            if meta::uid(&pod) != pod_uid.as_deref() {
                return;
            }
            let Ok(log) = container_log(&pod, opts.container.as_deref(), false) else {
                return;
            };
            let fresh: String = log
                .lines
                .iter()
                .filter(|l| sent.insert((*l).clone()))
                .map(|l| opts.render(l))
                .collect();
            if !send(&tx, fresh, &mut budget).await || log.finished {
                return;
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    Ok(text_response(Body::from_stream(
        futures_util::StreamExt::map(stream, Ok::<_, std::convert::Infallible>),
    )))
}

async fn read_pod(
    objects: &Objects,
    t: &Arc<ResourceType>,
    namespace: &str,
    name: &str,
) -> ApiResult<Value> {
    let (objects, t) = (objects.clone(), t.clone());
    let (namespace, name) = (namespace.to_string(), name.to_string());
    crate::http::blocking(move || objects.get_json(&t, &namespace, &name)).await
}

/// A query flag as Go's `strconv.ParseBool` reads it; absent is false.
fn go_bool(q: &HashMap<String, String>, key: &str) -> ApiResult<bool> {
    match q.get(key).map(String::as_str) {
        None | Some("") => Ok(false),
        Some("1" | "t" | "T" | "TRUE" | "true" | "True") => Ok(true),
        Some("0" | "f" | "F" | "FALSE" | "false" | "False") => Ok(false),
        Some(other) => Err(ApiError::bad_request(format!(
            "{key}: invalid boolean {other:?}"
        ))),
    }
}

/// Sends what fits in the byte budget; false when the stream should end (the client left,
/// or the budget is spent).
async fn send(tx: &mpsc::Sender<Bytes>, text: String, budget: &mut Option<usize>) -> bool {
    let full = text.len();
    let text = limit(text, *budget);
    let cut = text.len() < full;
    if let Some(left) = budget {
        *left -= text.len();
    }
    if !text.is_empty() && tx.send(Bytes::from(text)).await.is_err() {
        return false;
    }
    !cut && *budget != Some(0)
}

/// The first `limit` bytes of `text` (`limitBytes` may cut a line, as in Kubernetes).
fn limit(mut text: String, limit: Option<usize>) -> String {
    if let Some(n) = limit
        && text.len() > n
    {
        let mut cut = n;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

fn text_response(body: Body) -> Response {
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::OK;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::query;

    fn line(secs: i64, text: &str) -> LogLine {
        LogLine {
            time: DateTime::from_timestamp(secs, 0).unwrap(),
            text: text.into(),
        }
    }

    #[test]
    fn options_are_checked() {
        let parse = |pairs: &[(&str, &str)]| LogOptions::from_query(&query(pairs), "p");
        let both = parse(&[("sinceSeconds", "5"), ("sinceTime", "2026-01-01T00:00:00Z")]);
        assert!(both.unwrap_err().message.contains("at most one"));
        let negative = parse(&[("tailLines", "-1")]).unwrap_err();
        assert_eq!(negative.code, 422);
        assert_eq!(
            negative.message,
            "PodLogOptions \"p\" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(parse(&[("limitBytes", "0")]).unwrap_err().code, 422);
        assert_eq!(parse(&[("tailLines", "x")]).unwrap_err().code, 400);
        assert_eq!(parse(&[("follow", "yes")]).unwrap_err().code, 400);
        assert!(parse(&[("follow", "T")]).unwrap().follow);
        let opts = parse(&[("container", "web"), ("follow", "true"), ("tailLines", "1")]).unwrap();
        assert_eq!(
            (opts.container.as_deref(), opts.follow, opts.tail_lines),
            (Some("web"), true, Some(1))
        );
    }

    #[test]
    fn tail_since_timestamps_and_limits() {
        let log = ContainerLog {
            lines: vec![line(10, "one"), line(20, "two"), line(30, "three")],
            finished: false,
        };
        let tail = LogOptions {
            tail_lines: Some(2),
            ..Default::default()
        };
        let texts: Vec<&str> = tail.select(&log).iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["two", "three"]);
        let since = LogOptions {
            since: DateTime::from_timestamp(25, 0),
            timestamps: true,
            ..Default::default()
        };
        let picked = since.select(&log);
        assert_eq!(
            since.render(picked[0]),
            "1970-01-01T00:00:30.000000000Z three\n"
        );
        assert_eq!(limit("héllo".into(), Some(2)), "h");
    }
}
