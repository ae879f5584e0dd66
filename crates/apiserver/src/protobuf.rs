//! Decoding of `application/vnd.kubernetes.protobuf` request bodies into the JSON the same
//! object has, so that a protobuf create, update or delete proceeds exactly as a JSON one.
//! Typed clients (`kubectl create namespace`, `kubectl create deployment`, client-go
//! clientsets) send protobuf; responses stay JSON, which they accept.
//!
//! A body is the prefix `k8s\0` and a `runtime.Unknown` message: `typeMeta` (apiVersion,
//! kind), `raw` (the object's own encoding), `contentEncoding`, `contentType`. The object is
//! decoded field by field with the generated [`builtin_schema`](crate::builtin_schema): each
//! tag has a JSON name and a type. The JSON follows Go's: a zero value of a non-pointer
//! `omitempty` field is left out (gogo-protobuf writes every non-pointer field), times are
//! RFC 3339 strings, quantities strings, int-or-strings either, bytes base64. Anything this
//! schema does not know — a tag, a wire type, a kind — is an error, never silently dropped.
//! Nesting is bounded; malformed input is an error, never a panic.

use base64::Engine as _;
use ferry_api::{Classify, Disposition};
use serde_json::{Map, Number, Value};

use crate::builtin_schema::{
    self, BuiltinSchema, Cardinality, Element, Encoding, Field, Message, MessageId, Scalar,
};

/// The media type of Kubernetes protobuf bodies.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The four bytes every Kubernetes protobuf body starts with.
const MAGIC: &[u8] = b"k8s\0";

/// How deep the decoded JSON may nest (objects and arrays). Real objects stay far below (CRD
/// schemas nest deepest); it keeps recursion bounded and what is stored within the JSON
/// parser's own limit of 128, so that it parses again.
pub const MAX_DEPTH: usize = 100;

/// Why a protobuf body could not be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProtobufError {
    #[error("the body does not start with the Kubernetes protobuf prefix \"k8s\\x00\"")]
    MissingMagic,
    #[error("truncated {what} at byte {offset}")]
    Truncated { what: &'static str, offset: usize },
    #[error("the varint at byte {offset} is longer than 64 bits")]
    VarintOverflow { offset: usize },
    #[error("the field at byte {offset} declares {len} bytes but only {available} remain")]
    LengthPastEnd {
        offset: usize,
        len: u64,
        available: usize,
    },
    #[error("invalid field key {key} at byte {offset}")]
    InvalidKey { key: u64, offset: usize },
    #[error("{message} field {tag} ({field}) has wire type {found}, expected {expected}")]
    WireType {
        message: String,
        tag: u32,
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("{message} has no field with tag {tag}")]
    UnknownField { message: String, tag: u32 },
    #[error("{message}.{field}: {reason}")]
    InvalidValue {
        message: String,
        field: String,
        reason: String,
    },
    #[error("no protobuf schema for kind {kind:?} in {api_version:?}")]
    UnknownKind { api_version: String, kind: String },
    #[error("the object nests deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("content encoding {0:?} is not supported")]
    ContentEncoding(String),
    #[error("the built-in schema is unusable: {0}")]
    Schema(String),
}

impl Classify for ProtobufError {
    /// The body must change (or, for [`ProtobufError::Schema`], the build: never a retry).
    fn disposition(&self) -> Disposition {
        Disposition::GiveUp
    }
}

type Result<T> = std::result::Result<T, ProtobufError>;

/// Whether a `Content-Type` header value names Kubernetes protobuf.
pub fn is_protobuf(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(MEDIA_TYPE))
}

/// Decodes a protobuf body into the object's JSON, `apiVersion` and `kind` included.
pub fn decode(body: &[u8]) -> Result<Value> {
    let schema = builtin_schema::get().map_err(|e| ProtobufError::Schema(e.to_string()))?;
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or(ProtobufError::MissingMagic)?;
    let unknown = Unknown::parse(rest, MAGIC.len())?;
    if !unknown.content_encoding.is_empty() {
        return Err(ProtobufError::ContentEncoding(unknown.content_encoding));
    }
    let id = schema
        .kind(&unknown.api_version, &unknown.kind)
        .ok_or_else(|| ProtobufError::UnknownKind {
            api_version: unknown.api_version.clone(),
            kind: unknown.kind.clone(),
        })?;
    let decoder = Decoder { schema };
    let mut object = Map::new();
    decoder.fields_into(schema.message(id), unknown.raw, 1, &mut object)?;
    object.insert("apiVersion".into(), Value::String(unknown.api_version));
    object.insert("kind".into(), Value::String(unknown.kind));
    Ok(Value::Object(object))
}

/// The `runtime.Unknown` envelope.
struct Unknown<'a> {
    api_version: String,
    kind: String,
    raw: Wire<'a>,
    content_encoding: String,
}

impl<'a> Unknown<'a> {
    const NAME: &'static str = "runtime.Unknown";

    fn parse(buf: &'a [u8], base: usize) -> Result<Self> {
        let mut out = Unknown {
            api_version: String::new(),
            kind: String::new(),
            raw: Wire::Bytes {
                data: &[],
                offset: base + buf.len(),
            },
            content_encoding: String::new(),
        };
        for item in Fields::new(buf, base) {
            let (tag, value) = item?;
            match tag {
                1 => {
                    for item in
                        Fields::new(value.bytes(Self::NAME, tag, "typeMeta")?, value.offset())
                    {
                        let (tag, value) = item?;
                        let target = match tag {
                            1 => &mut out.api_version,
                            2 => &mut out.kind,
                            _ => return Err(unknown_field("runtime.TypeMeta", tag)),
                        };
                        *target = value.string("runtime.TypeMeta", tag, "")?;
                    }
                }
                2 => {
                    value.bytes(Self::NAME, tag, "raw")?;
                    out.raw = value;
                }
                3 => out.content_encoding = value.string(Self::NAME, tag, "contentEncoding")?,
                4 => {
                    value.string(Self::NAME, tag, "contentType")?;
                }
                _ => return Err(unknown_field(Self::NAME, tag)),
            }
        }
        Ok(out)
    }
}

fn unknown_field(message: &str, tag: u32) -> ProtobufError {
    ProtobufError::UnknownField {
        message: message.into(),
        tag,
    }
}

/// One field value as it is on the wire.
#[derive(Clone, Copy, Debug)]
enum Wire<'a> {
    Varint { value: u64, offset: usize },
    Fixed64 { value: u64, offset: usize },
    Bytes { data: &'a [u8], offset: usize },
    Fixed32 { offset: usize },
}

impl<'a> Wire<'a> {
    fn name(&self) -> &'static str {
        match self {
            Wire::Varint { .. } => "varint",
            Wire::Fixed64 { .. } => "64-bit",
            Wire::Bytes { .. } => "length-delimited",
            Wire::Fixed32 { .. } => "32-bit",
        }
    }

    /// Where the value (for bytes: its contents) starts in the body.
    fn offset(&self) -> usize {
        match *self {
            Wire::Varint { offset, .. }
            | Wire::Fixed64 { offset, .. }
            | Wire::Bytes { offset, .. }
            | Wire::Fixed32 { offset } => offset,
        }
    }

    fn mismatch(
        &self,
        message: &str,
        tag: u32,
        field: &str,
        expected: &'static str,
    ) -> ProtobufError {
        ProtobufError::WireType {
            message: message.into(),
            tag,
            field: field.into(),
            expected,
            found: self.name(),
        }
    }

    fn bytes(&self, message: &str, tag: u32, field: &str) -> Result<&'a [u8]> {
        match *self {
            Wire::Bytes { data, .. } => Ok(data),
            _ => Err(self.mismatch(message, tag, field, "length-delimited")),
        }
    }

    fn varint(&self, message: &str, tag: u32, field: &str) -> Result<u64> {
        match *self {
            Wire::Varint { value, .. } => Ok(value),
            _ => Err(self.mismatch(message, tag, field, "varint")),
        }
    }

    fn string(&self, message: &str, tag: u32, field: &str) -> Result<String> {
        let data = self.bytes(message, tag, field)?;
        String::from_utf8(data.to_vec()).map_err(|_| ProtobufError::InvalidValue {
            message: message.into(),
            field: field_name(field, tag),
            reason: "the string is not valid UTF-8".into(),
        })
    }
}

fn field_name(json: &str, tag: u32) -> String {
    if json.is_empty() {
        format!("<tag {tag}>")
    } else {
        json.to_string()
    }
}

/// The fields of one message, in wire order.
struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    /// The offset of `buf` in the whole body, for error messages.
    base: usize,
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8], base: usize) -> Self {
        Fields { buf, pos: 0, base }
    }

    fn varint(&mut self, what: &'static str) -> Result<u64> {
        let start = self.base + self.pos;
        let mut value: u64 = 0;
        for i in 0..10 {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(ProtobufError::Truncated {
                    what,
                    offset: start,
                });
            };
            self.pos += 1;
            if i == 9 && byte > 1 {
                return Err(ProtobufError::VarintOverflow { offset: start });
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ProtobufError::VarintOverflow { offset: start })
    }

    fn take_bytes(&mut self, len: usize, what: &'static str) -> Result<(&'a [u8], usize)> {
        let offset = self.base + self.pos;
        let end = self
            .pos
            .checked_add(len)
            .filter(|end| *end <= self.buf.len())
            .ok_or(ProtobufError::Truncated { what, offset })?;
        let data = &self.buf[self.pos..end];
        self.pos = end;
        Ok((data, offset))
    }

    fn next_field(&mut self) -> Result<(u32, Wire<'a>)> {
        let key_offset = self.base + self.pos;
        let key = self.varint("field key")?;
        let tag = u32::try_from(key >> 3)
            .ok()
            .filter(|t| (1..=0x1fff_ffff).contains(t))
            .ok_or(ProtobufError::InvalidKey {
                key,
                offset: key_offset,
            })?;
        let value = match key & 7 {
            0 => {
                let offset = self.base + self.pos;
                let value = self.varint("varint")?;
                Wire::Varint { value, offset }
            }
            1 => {
                let (data, offset) = self.take_bytes(8, "64-bit value")?;
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(data);
                Wire::Fixed64 {
                    value: u64::from_le_bytes(bytes),
                    offset,
                }
            }
            2 => {
                let len_offset = self.base + self.pos;
                let len = self.varint("length")?;
                let available = self.buf.len() - self.pos;
                let len_usize = usize::try_from(len)
                    .ok()
                    .filter(|l| *l <= available)
                    .ok_or(ProtobufError::LengthPastEnd {
                        offset: len_offset,
                        len,
                        available,
                    })?;
                let (data, offset) = self.take_bytes(len_usize, "bytes")?;
                Wire::Bytes { data, offset }
            }
            5 => {
                let (_, offset) = self.take_bytes(4, "32-bit value")?;
                Wire::Fixed32 { offset }
            }
            _ => {
                return Err(ProtobufError::InvalidKey {
                    key,
                    offset: key_offset,
                });
            }
        };
        Ok((tag, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Wire<'a>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let item = self.next_field();
        if item.is_err() {
            // Stop after the first error: the rest cannot be framed.
            self.pos = self.buf.len();
        }
        Some(item)
    }
}

struct Decoder<'s> {
    schema: &'s BuiltinSchema,
}

impl Decoder<'_> {
    /// Decodes one message value in its JSON encoding.
    fn message(&self, id: MessageId, value: Wire<'_>, depth: usize) -> Result<Value> {
        if depth > MAX_DEPTH {
            return Err(ProtobufError::TooDeep { limit: MAX_DEPTH });
        }
        let msg = self.schema.message(id);
        match msg.encoding {
            Encoding::Object => {
                let mut object = Map::new();
                self.fields_into(msg, value, depth, &mut object)?;
                Ok(Value::Object(object))
            }
            Encoding::Time | Encoding::MicroTime => time(msg, value),
            Encoding::Duration => duration(msg, value),
            Encoding::Json => embedded_json(msg, value),
            Encoding::Quantity => quantity(msg, value),
            Encoding::IntOrString => int_or_string(msg, value),
            Encoding::StringList => string_list(msg, value),
            Encoding::SchemaOrArray | Encoding::SchemaOrBool | Encoding::SchemaOrStringArray => {
                self.schema_or(msg, value, depth)
            }
        }
    }

    /// Decodes the fields of `msg` (an object message) into `out`; inline fields add theirs.
    fn fields_into(
        &self,
        msg: &Message,
        value: Wire<'_>,
        depth: usize,
        out: &mut Map<String, Value>,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(ProtobufError::TooDeep { limit: MAX_DEPTH });
        }
        let buf = value.bytes(&msg.name, 0, "")?;
        for item in Fields::new(buf, value.offset()) {
            let (tag, wire) = item?;
            let field = msg
                .field_by_tag(tag)
                .ok_or_else(|| unknown_field(&msg.name, tag))?;
            match field.cardinality {
                Cardinality::Single => {
                    let value = self.element(msg, field, wire, depth)?;
                    match out.get_mut(&field.json) {
                        // A message that occurs twice is merged, as protobuf does.
                        Some(existing @ Value::Object(_)) if value.is_object() => {
                            merge(existing, value)
                        }
                        _ if field.omit_empty && is_zero(&value) => {
                            out.remove(&field.json);
                        }
                        _ => {
                            out.insert(field.json.clone(), value);
                        }
                    }
                }
                Cardinality::Repeated => {
                    // The array is one level; its items are below it.
                    let items = self.repeated(msg, field, wire, depth + 1)?;
                    let list = out
                        .entry(field.json.clone())
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(list) = list {
                        list.extend(items);
                    }
                }
                Cardinality::Map => {
                    let (key, value) = self.map_entry(msg, field, wire, depth)?;
                    let map = out
                        .entry(field.json.clone())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(map) = map {
                        map.insert(key, value);
                    }
                }
                Cardinality::Inline => {
                    let Element::Message(inner) = field.element else {
                        return Err(ProtobufError::Schema(format!(
                            "{} field {tag} is an inline scalar",
                            msg.name
                        )));
                    };
                    wire.bytes(&msg.name, tag, "")?;
                    // Same JSON object; the schema bounds how deep inline fields nest.
                    self.fields_into(self.schema.message(inner), wire, depth, out)?;
                }
            }
        }
        Ok(())
    }

    /// One value of a field's element type.
    fn element(&self, msg: &Message, field: &Field, wire: Wire<'_>, depth: usize) -> Result<Value> {
        match field.element {
            Element::Message(id) => {
                wire.bytes(&msg.name, field.tag, &field.json)?;
                self.message(id, wire, depth + 1)
            }
            Element::Scalar(scalar) => scalar_value(msg, field, scalar, wire),
        }
    }

    /// The items one occurrence of a repeated field holds: one, or several when packed.
    fn repeated(
        &self,
        msg: &Message,
        field: &Field,
        wire: Wire<'_>,
        depth: usize,
    ) -> Result<Vec<Value>> {
        if depth > MAX_DEPTH {
            return Err(ProtobufError::TooDeep { limit: MAX_DEPTH });
        }
        let packable = matches!(
            field.element,
            Element::Scalar(Scalar::Int32 | Scalar::Int64 | Scalar::Bool | Scalar::Double)
        );
        match wire {
            Wire::Bytes { data, offset } if packable => {
                let mut reader = Fields::new(data, offset);
                let mut items = Vec::new();
                while reader.pos < data.len() {
                    let at = reader.base + reader.pos;
                    let item = match field.element {
                        Element::Scalar(Scalar::Double) => {
                            let (bytes, offset) = reader.take_bytes(8, "packed double")?;
                            let mut b = [0u8; 8];
                            b.copy_from_slice(bytes);
                            Wire::Fixed64 {
                                value: u64::from_le_bytes(b),
                                offset,
                            }
                        }
                        _ => Wire::Varint {
                            value: reader.varint("packed varint")?,
                            offset: at,
                        },
                    };
                    items.push(self.element(msg, field, item, depth)?);
                }
                Ok(items)
            }
            _ => Ok(vec![self.element(msg, field, wire, depth)?]),
        }
    }

    /// One `map<string, V>` entry: a message with the key at tag 1 and the value at tag 2.
    fn map_entry(
        &self,
        msg: &Message,
        field: &Field,
        wire: Wire<'_>,
        depth: usize,
    ) -> Result<(String, Value)> {
        if depth + 1 > MAX_DEPTH {
            return Err(ProtobufError::TooDeep { limit: MAX_DEPTH });
        }
        let entry = wire.bytes(&msg.name, field.tag, &field.json)?;
        let entry_name = format!("{}.{} entry", msg.name, field.json);
        let mut key = String::new();
        let mut value = None;
        for item in Fields::new(entry, wire.offset()) {
            let (tag, wire) = item?;
            match tag {
                1 => key = wire.string(&entry_name, tag, "key")?,
                2 => value = Some(self.element(msg, field, wire, depth + 1)?),
                _ => return Err(unknown_field(&entry_name, tag)),
            }
        }
        let value = match value {
            Some(v) => v,
            // An absent value is the zero value of its type.
            None => {
                let empty = Wire::Bytes {
                    data: &[],
                    offset: wire.offset() + entry.len(),
                };
                match field.element {
                    Element::Message(id) => self.message(id, empty, depth + 2)?,
                    Element::Scalar(Scalar::String | Scalar::Bytes) => Value::String(String::new()),
                    Element::Scalar(Scalar::Bool) => Value::Bool(false),
                    Element::Scalar(_) => Value::from(0),
                }
            }
        };
        Ok((key, value))
    }

    /// The `JSONSchemaPropsOr*` encodings: a schema, or an array / boolean alternative.
    fn schema_or(&self, msg: &Message, value: Wire<'_>, depth: usize) -> Result<Value> {
        let props = self
            .schema
            .json_schema_props()
            .ok_or_else(|| ProtobufError::Schema(format!("{} needs JSONSchemaProps", msg.name)))?;
        let mut schema = None;
        let mut list = Vec::new();
        let mut allows = false;
        for item in Fields::new(value.bytes(&msg.name, 0, "")?, value.offset()) {
            let (tag, wire) = item?;
            match (msg.encoding, tag) {
                (Encoding::SchemaOrArray | Encoding::SchemaOrStringArray, 1)
                | (Encoding::SchemaOrBool, 2) => {
                    wire.bytes(&msg.name, tag, "schema")?;
                    schema = Some(self.message(props, wire, depth + 1)?);
                }
                (Encoding::SchemaOrArray, 2) => {
                    wire.bytes(&msg.name, tag, "JSONSchemas")?;
                    list.push(self.message(props, wire, depth + 1)?);
                }
                (Encoding::SchemaOrStringArray, 2) => {
                    list.push(Value::String(wire.string(&msg.name, tag, "property")?));
                }
                (Encoding::SchemaOrBool, 1) => allows = wire.varint(&msg.name, tag, "allows")? != 0,
                _ => return Err(unknown_field(&msg.name, tag)),
            }
        }
        // As the Go types marshal: the array when it has items, else the schema.
        Ok(match msg.encoding {
            Encoding::SchemaOrBool => schema.unwrap_or(Value::Bool(allows)),
            _ if !list.is_empty() => Value::Array(list),
            _ => schema.unwrap_or(Value::Null),
        })
    }
}

fn scalar_value(msg: &Message, field: &Field, scalar: Scalar, wire: Wire<'_>) -> Result<Value> {
    let (name, tag) = (&msg.name, field.tag);
    Ok(match scalar {
        Scalar::String => Value::String(wire.string(name, tag, &field.json)?),
        Scalar::Bytes => Value::String(
            base64::engine::general_purpose::STANDARD.encode(wire.bytes(name, tag, &field.json)?),
        ),
        // Truncation to 32 bits is how protobuf reads an int32.
        Scalar::Int32 => Value::from(wire.varint(name, tag, &field.json)? as i32),
        Scalar::Int64 => Value::from(wire.varint(name, tag, &field.json)? as i64),
        Scalar::Bool => Value::Bool(wire.varint(name, tag, &field.json)? != 0),
        Scalar::Double => {
            let Wire::Fixed64 { value, .. } = wire else {
                return Err(wire.mismatch(name, tag, &field.json, "64-bit"));
            };
            double(f64::from_bits(value)).ok_or_else(|| ProtobufError::InvalidValue {
                message: msg.name.clone(),
                field: field.json.clone(),
                reason: "not a finite number".into(),
            })?
        }
    })
}

/// A float as Go's encoding/json writes it: integral values without a fraction.
fn double(v: f64) -> Option<Value> {
    if v.fract() == 0.0 && v.abs() < 9.007_199_254_740_992e15 {
        return Some(Value::from(v as i64));
    }
    Number::from_f64(v).map(Value::Number)
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Null => true,
        _ => false,
    }
}

/// Protobuf's merge of a message that occurs twice: later fields win, nested messages merge,
/// lists append.
fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => a.extend(b),
        (a, b) => *a = b,
    }
}

fn invalid(msg: &Message, reason: impl Into<String>) -> ProtobufError {
    ProtobufError::InvalidValue {
        message: msg.name.clone(),
        field: String::new(),
        reason: reason.into(),
    }
}

/// `Time` (seconds precision, as Kubernetes keeps it) or `MicroTime`; `null` for the zero
/// time, which Go marshals as an empty message.
fn time(msg: &Message, value: Wire<'_>) -> Result<Value> {
    let buf = value.bytes(&msg.name, 0, "")?;
    if buf.is_empty() {
        return Ok(Value::Null);
    }
    let (mut seconds, mut nanos) = (0i64, 0i64);
    for item in Fields::new(buf, value.offset()) {
        let (tag, wire) = item?;
        match tag {
            1 => seconds = wire.varint(&msg.name, tag, "seconds")? as i64,
            2 => nanos = i64::from(wire.varint(&msg.name, tag, "nanos")? as i32),
            _ => return Err(unknown_field(&msg.name, tag)),
        }
    }
    let micro = msg.encoding == Encoding::MicroTime;
    let nanos = if micro { nanos } else { 0 };
    let t = u32::try_from(nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)
        .and_then(|n| chrono::DateTime::from_timestamp(seconds, n))
        .filter(|t| (0..=9999).contains(&chrono::Datelike::year(t)))
        .ok_or_else(|| invalid(msg, format!("time {seconds}s {nanos}ns is out of range")))?;
    let format = if micro {
        "%Y-%m-%dT%H:%M:%S%.6fZ"
    } else {
        "%Y-%m-%dT%H:%M:%SZ"
    };
    Ok(Value::String(t.format(format).to_string()))
}

/// `Duration` as Go's `time.Duration.String` writes it.
fn duration(msg: &Message, value: Wire<'_>) -> Result<Value> {
    let mut nanos = 0i64;
    for item in Fields::new(value.bytes(&msg.name, 0, "")?, value.offset()) {
        let (tag, wire) = item?;
        match tag {
            1 => nanos = wire.varint(&msg.name, tag, "duration")? as i64,
            _ => return Err(unknown_field(&msg.name, tag)),
        }
    }
    Ok(Value::String(go_duration(nanos)))
}

/// Go's `time.Duration.String`: `0s`, `1.5s`, `1m0s`, `2h3m4.5s`, `100ms`, `1µs`, `-1ns`.
pub fn go_duration(nanos: i64) -> String {
    /// `.` and the fraction `v / 10^prec` without trailing zeros, or nothing; and `v / 10^prec`.
    fn frac(v: u64, prec: u32) -> (String, u64) {
        let scale = 10u64.pow(prec);
        let digits = format!("{:0width$}", v % scale, width = prec as usize);
        let digits = digits.trim_end_matches('0');
        let text = if digits.is_empty() {
            String::new()
        } else {
            format!(".{digits}")
        };
        (text, v / scale)
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    if u == 0 {
        return "0s".into();
    }
    if u < 1_000_000_000 {
        let (unit, prec) = match u {
            0..1_000 => ("ns", 0),
            1_000..1_000_000 => ("µs", 3),
            _ => ("ms", 6),
        };
        let (fraction, whole) = frac(u, prec);
        return format!("{sign}{whole}{fraction}{unit}");
    }
    let (fraction, seconds) = frac(u, 9);
    let (minutes, hours) = (seconds / 60, seconds / 3600);
    let mut out = String::from(sign);
    if hours > 0 {
        out.push_str(&format!("{hours}h{}m", minutes % 60));
    } else if minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&format!("{}{fraction}s", seconds % 60));
    out
}

/// `RawExtension`, `FieldsV1`, apiextensions `JSON`: the embedded document, `null` if empty.
fn embedded_json(msg: &Message, value: Wire<'_>) -> Result<Value> {
    let mut raw: &[u8] = &[];
    for item in Fields::new(value.bytes(&msg.name, 0, "")?, value.offset()) {
        let (tag, wire) = item?;
        match tag {
            1 => raw = wire.bytes(&msg.name, tag, "raw")?,
            _ => return Err(unknown_field(&msg.name, tag)),
        }
    }
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(raw).map_err(|e| invalid(msg, format!("raw is not JSON: {e}")))
}

/// `Quantity`: its string; the zero quantity is `"0"`.
fn quantity(msg: &Message, value: Wire<'_>) -> Result<Value> {
    let mut s = String::from("0");
    for item in Fields::new(value.bytes(&msg.name, 0, "")?, value.offset()) {
        let (tag, wire) = item?;
        match tag {
            1 => s = wire.string(&msg.name, tag, "string")?,
            _ => return Err(unknown_field(&msg.name, tag)),
        }
    }
    Ok(Value::String(s))
}

/// A message of one repeated string (`ExtraValue`): the strings as an array.
fn string_list(msg: &Message, value: Wire<'_>) -> Result<Value> {
    let mut items = Vec::new();
    for item in Fields::new(value.bytes(&msg.name, 0, "")?, value.offset()) {
        let (tag, wire) = item?;
        match tag {
            1 => items.push(Value::String(wire.string(&msg.name, tag, "items")?)),
            _ => return Err(unknown_field(&msg.name, tag)),
        }
    }
    Ok(Value::Array(items))
}

/// `IntOrString`: `intVal` when `type` is 0, `strVal` when it is 1.
fn int_or_string(msg: &Message, value: Wire<'_>) -> Result<Value> {
    let (mut kind, mut int_val, mut str_val) = (0u64, 0i32, String::new());
    for item in Fields::new(value.bytes(&msg.name, 0, "")?, value.offset()) {
        let (tag, wire) = item?;
        match tag {
            1 => kind = wire.varint(&msg.name, tag, "type")?,
            2 => int_val = wire.varint(&msg.name, tag, "intVal")? as i32,
            3 => str_val = wire.string(&msg.name, tag, "strVal")?,
            _ => return Err(unknown_field(&msg.name, tag)),
        }
    }
    match kind {
        0 => Ok(Value::from(int_val)),
        1 => Ok(Value::String(str_val)),
        other => Err(invalid(msg, format!("unknown type {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Builds protobuf bytes by hand.
    #[derive(Default, Clone)]
    struct Pb(Vec<u8>);

    fn varint(out: &mut Vec<u8>, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    impl Pb {
        fn new() -> Self {
            Self::default()
        }
        fn key(mut self, tag: u32, wire: u64) -> Self {
            varint(&mut self.0, (u64::from(tag) << 3) | wire);
            self
        }
        fn int(self, tag: u32, v: i64) -> Self {
            let mut s = self.key(tag, 0);
            varint(&mut s.0, v as u64);
            s
        }
        fn bytes(self, tag: u32, data: &[u8]) -> Self {
            let mut s = self.key(tag, 2);
            varint(&mut s.0, data.len() as u64);
            s.0.extend_from_slice(data);
            s
        }
        fn str(self, tag: u32, v: &str) -> Self {
            self.bytes(tag, v.as_bytes())
        }
        fn msg(self, tag: u32, m: Pb) -> Self {
            self.bytes(tag, &m.0)
        }
        fn double(self, tag: u32, v: f64) -> Self {
            let mut s = self.key(tag, 1);
            s.0.extend_from_slice(&v.to_bits().to_le_bytes());
            s
        }
        fn entry(self, tag: u32, k: &str, v: Pb) -> Self {
            self.msg(tag, Pb::new().str(1, k).msg(2, v))
        }
        fn string_entry(self, tag: u32, k: &str, v: &str) -> Self {
            self.msg(tag, Pb::new().str(1, k).str(2, v))
        }
    }

    /// A whole body: magic, then `runtime.Unknown`.
    fn body(api_version: &str, kind: &str, raw: Pb) -> Vec<u8> {
        let unknown = Pb::new()
            .msg(1, Pb::new().str(1, api_version).str(2, kind))
            .msg(2, raw)
            .str(3, "")
            .str(4, "");
        [MAGIC, &unknown.0].concat()
    }

    /// ObjectMeta as gogo-protobuf writes it: every non-pointer field, zero or not.
    fn meta(name: &str) -> Pb {
        Pb::new()
            .str(1, name)
            .str(2, "")
            .str(3, "")
            .str(4, "")
            .str(5, "")
            .str(6, "")
            .int(7, 0)
            .msg(8, Pb::new())
    }

    #[test]
    fn extra_values_are_string_arrays() {
        // SelfSubjectReview's userInfo.extra: map<string, ExtraValue{repeated string items}>.
        let user = Pb::new()
            .str(1, "jane")
            .entry(4, "scopes", Pb::new().str(1, "a").str(1, "b"));
        let raw = Pb::new().msg(1, meta("")).msg(2, Pb::new().msg(1, user));
        let review = decode(&body("authentication.k8s.io/v1", "SelfSubjectReview", raw)).unwrap();
        assert_eq!(
            review["status"]["userInfo"],
            json!({"username": "jane", "extra": {"scopes": ["a", "b"]}})
        );
    }

    #[test]
    fn namespace_as_kubectl_sends_it() {
        // `kubectl create namespace x`, byte for byte.
        let wire = b"k8s\x00\x0a\x0f\x0a\x02v1\x12\x09Namespace\x12\x19\x0a\x11\x0a\x01x\x12\x00\x1a\x00\x22\x00\x2a\x00\x32\x00\x38\x00\x42\x00\x12\x00\x1a\x02\x0a\x00\x1a\x00\x22\x00";
        assert_eq!(
            decode(wire).unwrap(),
            json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "x", "creationTimestamp": null}, "spec": {}, "status": {}})
        );
    }

    #[test]
    fn config_map_with_data_labels_and_binary_data() {
        let cm = Pb::new()
            .msg(1, meta("settings").string_entry(11, "app", "web"))
            .string_entry(2, "color", "blue")
            .string_entry(2, "empty", "")
            .msg(3, Pb::new().str(1, "bin").bytes(2, &[0, 1, 2]));
        assert_eq!(
            decode(&body("v1", "ConfigMap", cm)).unwrap(),
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "settings", "labels": {"app": "web"}, "creationTimestamp": null},
                "data": {"color": "blue", "empty": ""}, "binaryData": {"bin": "AAEC"}})
        );
    }

    #[test]
    fn secret_bytes_are_base64() {
        let secret = Pb::new()
            .msg(1, meta("s"))
            .msg(2, Pb::new().str(1, "k").bytes(2, b"v"))
            .str(3, "Opaque")
            .int(5, 0);
        assert_eq!(
            decode(&body("v1", "Secret", secret)).unwrap(),
            json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "immutable": false,
                "metadata": {"name": "s", "creationTimestamp": null}, "data": {"k": "dg=="}})
        );
    }

    #[test]
    fn deployment_with_containers_resources_and_int_or_string() {
        let quantity = |q: &str| Pb::new().str(1, q);
        let container = Pb::new()
            .str(1, "nginx")
            .str(2, "nginx:1.27")
            .str(4, "--port=80")
            .msg(
                6,
                Pb::new().str(1, "http").int(2, 0).int(3, 80).str(4, "TCP"),
            )
            .msg(
                8,
                Pb::new()
                    .entry(1, "cpu", quantity("500m"))
                    .entry(2, "memory", quantity("64Mi")),
            )
            .str(14, "IfNotPresent")
            .int(16, 0);
        let labels = Pb::new().string_entry(1, "app", "web");
        let spec = Pb::new()
            .int(1, 0)
            .msg(2, labels.clone())
            .msg(
                3,
                Pb::new()
                    .msg(1, meta("").string_entry(11, "app", "web"))
                    .msg(2, Pb::new().msg(2, container)),
            )
            .msg(
                4,
                Pb::new().str(1, "RollingUpdate").msg(
                    2,
                    Pb::new()
                        .msg(1, Pb::new().int(1, 1).str(3, "25%"))
                        .msg(2, Pb::new().int(1, 0).int(2, 1)),
                ),
            )
            .int(5, 0)
            .int(7, 0);
        let deployment = Pb::new().msg(1, meta("web")).msg(2, spec).msg(3, Pb::new());
        let got = decode(&body("apps/v1", "Deployment", deployment)).unwrap();
        assert_eq!(
            got["spec"],
            json!({
                "replicas": 0,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}, "creationTimestamp": null},
                    "spec": {"containers": [{
                        "name": "nginx", "image": "nginx:1.27", "args": ["--port=80"],
                        "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                        "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}},
                        "imagePullPolicy": "IfNotPresent",
                    }]},
                },
                "strategy": {"type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1}},
            }),
            "replicas 0 (a pointer) stays; minReadySeconds 0 (a value) goes"
        );
        assert_eq!(got["status"], json!({}));
    }

    #[test]
    fn times_and_micro_times() {
        let t = |s: i64, n: i64| Pb::new().int(1, s).int(2, n);
        let condition = Pb::new()
            .str(1, "Ready")
            .str(2, "True")
            .msg(3, t(1_704_164_645, 999))
            .msg(4, t(1_704_164_645, 0));
        let pod = Pb::new()
            .msg(1, meta("p"))
            .msg(3, Pb::new().msg(2, condition));
        let got = decode(&body("v1", "Pod", pod)).unwrap();
        assert_eq!(
            got["status"]["conditions"][0]["lastProbeTime"],
            "2024-01-02T03:04:05Z"
        );
        let event = Pb::new()
            .msg(1, meta("e"))
            .msg(2, Pb::new().str(1, "Pod").str(3, "p"))
            .msg(10, t(1_704_164_645, 123_456_789));
        let got = decode(&body("v1", "Event", event)).unwrap();
        assert_eq!(got["eventTime"], "2024-01-02T03:04:05.123456Z");
        assert_eq!(got["involvedObject"], json!({"kind": "Pod", "name": "p"}));
        let bad = Pb::new().msg(1, meta("e")).msg(10, t(i64::MAX, 0));
        assert!(matches!(
            decode(&body("v1", "Event", bad)),
            Err(ProtobufError::InvalidValue { .. })
        ));
    }

    #[test]
    fn durations_read_as_go_writes_them() {
        for (nanos, text) in [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (100_000_000, "100ms"),
            (1_500_000_000, "1.5s"),
            (60_000_000_000, "1m0s"),
            (3_723_500_000_000, "1h2m3.5s"),
            (-90_000_000_000, "-1m30s"),
        ] {
            assert_eq!(go_duration(nanos), text);
        }
    }

    #[test]
    fn delete_options_in_any_group_version() {
        let opts = Pb::new()
            .int(1, 0)
            .msg(2, Pb::new().str(1, "uid-1"))
            .str(4, "Foreground")
            .str(5, "All");
        assert_eq!(
            decode(&body("apps/v1", "DeleteOptions", opts)).unwrap(),
            json!({"apiVersion": "apps/v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                "preconditions": {"uid": "uid-1"}, "propagationPolicy": "Foreground", "dryRun": ["All"]})
        );
    }

    #[test]
    fn crd_schemas_use_their_json_shapes() {
        let props = |ty: &str| Pb::new().str(5, ty);
        let schema = Pb::new()
            .str(5, "object")
            .entry(29, "size", props("integer").double(9, 10.0))
            .entry(29, "ratio", props("number").double(9, 0.5))
            .msg(24, Pb::new().msg(1, props("string")))
            .msg(30, Pb::new().int(1, 1))
            .msg(8, Pb::new().bytes(1, b"\"x\""));
        let version = Pb::new()
            .str(1, "v1")
            .int(2, 1)
            .int(3, 1)
            .msg(4, Pb::new().msg(1, schema))
            .msg(5, Pb::new().msg(1, Pb::new()));
        let crd = Pb::new().msg(1, meta("ws.example.com")).msg(
            2,
            Pb::new()
                .str(1, "example.com")
                .msg(3, Pb::new().str(1, "ws").str(4, "W"))
                .str(4, "Namespaced")
                .msg(7, version),
        );
        let got = decode(&body(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            crd,
        ))
        .unwrap();
        assert_eq!(
            got["spec"]["versions"][0],
            json!({"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object",
                    "properties": {"size": {"type": "integer", "maximum": 10},
                                   "ratio": {"type": "number", "maximum": 0.5}},
                    "items": {"type": "string"}, "additionalProperties": true,
                    "default": "x"}}})
        );
    }

    #[test]
    fn packed_and_unpacked_repeated_numbers() {
        // podFailurePolicy.rules[0].onExitCodes.values: packed 1, 2 then unpacked 3.
        let mut packed = Vec::new();
        varint(&mut packed, 1);
        varint(&mut packed, 2);
        let rule = {
            let mut r = Pb::new().str(2, "In").bytes(3, &packed).key(3, 0);
            varint(&mut r.0, 3);
            r
        };
        let job = Pb::new().msg(1, meta("j")).msg(
            2,
            Pb::new().msg(
                11,
                Pb::new().msg(1, Pb::new().str(1, "FailJob").msg(2, rule)),
            ),
        );
        let got = decode(&body("batch/v1", "Job", job)).unwrap();
        assert_eq!(
            got["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"],
            json!({"operator": "In", "values": [1, 2, 3]})
        );
    }

    #[test]
    fn unknown_tags_kinds_and_encodings_are_errors() {
        let cm = Pb::new().msg(1, meta("x")).str(99, "surprise");
        assert_eq!(
            decode(&body("v1", "ConfigMap", cm)).unwrap_err(),
            ProtobufError::UnknownField {
                message: "core.v1.ConfigMap".into(),
                tag: 99
            }
        );
        assert!(matches!(
            decode(&body("example.com/v1", "Widget", Pb::new())),
            Err(ProtobufError::UnknownKind { .. })
        ));
        let gzip = [
            MAGIC,
            &Pb::new()
                .msg(1, Pb::new().str(1, "v1").str(2, "ConfigMap"))
                .str(3, "gzip")
                .0,
        ]
        .concat();
        assert_eq!(
            decode(&gzip).unwrap_err(),
            ProtobufError::ContentEncoding("gzip".into())
        );
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let good = body("v1", "ConfigMap", Pb::new().msg(1, meta("x")));
        assert!(decode(&good).is_ok());
        assert_eq!(decode(b"{}").unwrap_err(), ProtobufError::MissingMagic);
        assert_eq!(decode(b"k8s").unwrap_err(), ProtobufError::MissingMagic);
        // No truncation of a valid body panics; one inside the typeMeta is an error.
        for len in 0..good.len() {
            let _ = decode(&good[..len]);
        }
        assert!(matches!(
            decode(&good[..MAGIC.len() + 5]),
            Err(ProtobufError::LengthPastEnd { .. })
        ));
        // A varint that never ends, and one longer than 64 bits.
        assert!(matches!(
            decode(&[MAGIC, &[0x0a, 0xff, 0xff]].concat()),
            Err(ProtobufError::Truncated { .. })
        ));
        assert!(matches!(
            decode(
                &[
                    MAGIC,
                    &[
                        0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f
                    ]
                ]
                .concat()
            ),
            Err(ProtobufError::VarintOverflow { .. })
        ));
        // A length past the end.
        assert!(matches!(
            decode(&[MAGIC, &[0x12, 0x7f, 0x00]].concat()),
            Err(ProtobufError::LengthPastEnd { .. })
        ));
        // A string field sent as a varint.
        let wrong = Pb::new().msg(1, Pb::new().int(1, 5));
        assert!(matches!(
            decode(&body("v1", "ConfigMap", wrong)),
            Err(ProtobufError::WireType { .. })
        ));
        // Groups (wire types 3 and 4) and tag 0.
        for raw in [vec![0x0b], vec![0x0c], vec![0x00, 0x00]] {
            assert!(decode(&body("v1", "ConfigMap", Pb(raw))).is_err());
        }
        // Invalid UTF-8, and a double that is not finite.
        assert!(matches!(
            decode(&body(
                "v1",
                "ConfigMap",
                Pb::new().msg(1, Pb::new().bytes(1, &[0xff]))
            )),
            Err(ProtobufError::InvalidValue { .. })
        ));
        let nan = Pb::new().msg(
            2,
            Pb::new().msg(
                7,
                Pb::new().msg(4, Pb::new().msg(1, Pb::new().double(9, f64::NAN))),
            ),
        );
        assert!(matches!(
            decode(&body(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                nan
            )),
            Err(ProtobufError::InvalidValue { .. })
        ));
    }

    #[test]
    fn deep_nesting_is_bounded() {
        // JSONSchemaProps.not (tag 28) nested 10,000 times.
        let mut inner = Pb::new().str(5, "object").0;
        for _ in 0..10_000 {
            inner = Pb::new().bytes(28, &inner).0;
        }
        let crd = Pb::new().msg(
            2,
            Pb::new().msg(7, Pb::new().msg(4, Pb::new().bytes(1, &inner))),
        );
        assert_eq!(
            decode(&body(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                crd
            ))
            .unwrap_err(),
            ProtobufError::TooDeep { limit: MAX_DEPTH }
        );
    }

    #[test]
    fn content_types() {
        assert!(is_protobuf("application/vnd.kubernetes.protobuf"));
        assert!(is_protobuf(
            "application/vnd.kubernetes.protobuf; charset=utf-8"
        ));
        assert!(!is_protobuf("application/json"));
        assert!(!is_protobuf("application/vnd.kubernetes.protobuf+json"));
    }
}
