//! Lua health scripts, run as Argo CD runs them under gopher-lua: Lua 5.1 with `goto` (LuaJIT's
//! interpreter; its compiler is off), the object as
//! the global `obj` (JSON numbers as numbers, arrays as 1-based tables with `null`s dropped,
//! `null` fields absent), the script's last returned value read as `{status, message}`.
//!
//! The state is new for every run and sandboxed: base functions without file access
//! (`dofile`, `loadfile` are gone; `print` goes to the log), `table`, and an `os` with only
//! `time`, `date`, `clock` and `difftime`; `useOpenLibs` adds `string`, `math` and
//! `coroutine` (never `io` or `debug`, nor the rest of `os`). `tostring` writes numbers as
//! gopher-lua does (`1e15` is `1000000000000000`, `0.1 + 0.2` is `0.30000000000000004`).
//! A run may take 1 s (Argo CD's timeout) and 64 MiB; past either it is an error.

use std::time::{Duration, Instant};

use mlua::{HookTriggers, Lua, LuaOptions, StdLib, Value as LuaValue, VmState};
use serde_json::Value;

use super::{Health, HealthCode};

/// How long one script may run (Argo CD's).
const TIMEOUT: Duration = Duration::from_secs(1);
/// How much memory one script's state may hold.
const MEMORY: usize = 64 << 20;
/// How often (in VM instructions) the deadline is looked at.
const CHECK_EVERY: u32 = 10_000;

/// A health script and whether it gets the open libraries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// The Lua source.
    pub source: String,
    /// `useOpenLibs`: `string`, `math`, `coroutine` too.
    pub open_libs: bool,
}

/// Runs `script` on `obj`: its verdict, `None` when it returns nothing a status can be read
/// from (Argo CD's empty status: no health, and no built-in check either), or why it failed.
pub fn run(script: &Script, obj: &Value) -> Result<Option<Health>, String> {
    let deadline = Instant::now() + TIMEOUT;
    let lua = state(script.open_libs, deadline).map_err(|e| message(&e))?;
    // One hook for every thread, coroutines included (LuaJIT has one hook per state).
    lua.set_global_hook(
        HookTriggers::new().every_nth_instruction(CHECK_EVERY),
        move |_, _| past(deadline).map(|()| VmState::Continue),
    )
    .map_err(|e| message(&e))?;
    lua.globals()
        .set("obj", to_lua(&lua, obj).map_err(|e| message(&e))?)
        .map_err(|e| message(&e))?;
    lua.globals()
        .set("actionParams", lua.create_table().map_err(|e| message(&e))?)
        .map_err(|e| message(&e))?;
    let returned: mlua::MultiValue = lua
        .load(script.source.as_str())
        .set_name("=<string>")
        .set_mode(mlua::chunk::ChunkMode::Text)
        .call(())
        .map_err(|e| message(&e))?;
    verdict(returned.into_iter().last().unwrap_or(LuaValue::Nil))
}

/// An error once `deadline` has passed.
fn past(deadline: Instant) -> mlua::Result<()> {
    if Instant::now() > deadline {
        Err(mlua::Error::RuntimeError(
            "context deadline exceeded".to_string(),
        ))
    } else {
        Ok(())
    }
}

/// A fresh sandboxed state for a run that ends at `deadline`.
fn state(open_libs: bool, deadline: Instant) -> mlua::Result<Lua> {
    // The JIT lib only to turn the compiler off: traces would not see the deadline hook.
    let mut libs = StdLib::TABLE | StdLib::OS | StdLib::JIT;
    if open_libs {
        libs |= StdLib::STRING | StdLib::MATH;
    }
    let lua = Lua::new_with(libs, LuaOptions::default())?;
    lua.set_memory_limit(MEMORY)?;
    lua.load("jit.off()").exec()?;
    let globals = lua.globals();
    // `newproxy`'s `__gc` would run with hooks off, beyond the deadline; gopher-lua has none.
    for unsafe_global in ["dofile", "loadfile", "jit", "newproxy"] {
        globals.raw_set(unsafe_global, LuaValue::Nil)?;
    }
    // Lua 5.1's base library brings `coroutine`; gopher-lua's does not.
    if !open_libs {
        globals.raw_set("coroutine", LuaValue::Nil)?;
    }
    lua.set_named_registry_value("ferry_tostring", globals.get::<mlua::Function>("tostring")?)?;
    let os: mlua::Table = globals.get("os")?;
    let safe = lua.create_table()?;
    for kept in ["time", "date", "clock", "difftime"] {
        safe.raw_set(kept, os.raw_get::<LuaValue>(kept)?)?;
    }
    globals.raw_set("os", safe.clone())?;
    globals.raw_set(
        "print",
        lua.create_function(|_, values: mlua::Variadic<LuaValue>| {
            let text: Vec<String> = values.iter().map(show).collect();
            tracing::debug!(target: "ferry::lua", "{}", text.join("\t"));
            Ok(())
        })?,
    )?;
    globals.raw_set(
        "tostring",
        lua.create_function(|lua, value: LuaValue| match &value {
            LuaValue::Integer(_) | LuaValue::Number(_) => lua.create_string(show(&value)),
            _ => {
                let builtin: mlua::Function = lua.named_registry_value("ferry_tostring")?;
                builtin.call(value)
            }
        })?,
    )?;
    // `require("os")` is the only module, as in Argo CD's VM.
    globals.raw_set(
        "require",
        lua.create_function(move |lua, name: String| {
            if name == "os" {
                lua.globals().get::<mlua::Table>("os")
            } else {
                Err(mlua::Error::RuntimeError(format!(
                    "module {name} not found"
                )))
            }
        })?,
    )?;
    globals.raw_set("_GOPHER_LUA_VERSION", "GopherLua 1.1.2")?;
    // What catches errors must not catch the deadline's: past it, they raise it again.
    for (table, name) in [("_G", "pcall"), ("_G", "xpcall"), ("coroutine", "resume")] {
        let Ok(owner) = globals.get::<mlua::Table>(table) else {
            continue;
        };
        let original: mlua::Function = owner.raw_get(name)?;
        owner.raw_set(
            name,
            lua.create_function(move |_, args: mlua::MultiValue| {
                let result: mlua::MultiValue = original.call(args)?;
                past(deadline)?;
                Ok(result)
            })?,
        )?;
    }
    // Text only: LuaJIT's bytecode loader trusts what it reads.
    for name in ["load", "loadstring"] {
        let original: mlua::Function = globals.raw_get(name)?;
        globals.raw_set(
            name,
            lua.create_function(move |_, (chunk, name): (LuaValue, Option<String>)| {
                original.call::<mlua::MultiValue>((chunk, name, "t"))
            })?,
        )?;
    }
    if let Ok(string) = globals.get::<mlua::Table>("string") {
        string.raw_set("dump", LuaValue::Nil)?;
    }
    Ok(lua)
}

/// A value as gopher-lua's `tostring` writes it.
fn show(value: &LuaValue) -> String {
    match value {
        LuaValue::Integer(i) => i.to_string(),
        LuaValue::Number(n) => number(*n),
        LuaValue::String(s) => s.to_string_lossy(),
        LuaValue::Boolean(b) => b.to_string(),
        LuaValue::Nil => "nil".to_string(),
        other => format!("{}: {:p}", other.type_name(), other.to_pointer()),
    }
}

/// A number as gopher-lua writes it: an integral value within `i64` as its digits, any other
/// as Go's `fmt.Sprint` of a float64.
pub fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9.2e18 {
        return (n as i64).to_string();
    }
    gtmpl_ng::format_float(n, gtmpl_ng::FloatFormat::General, None)
}

/// JSON as gopher-lua's `decodeValue` builds it.
fn to_lua(lua: &Lua, value: &Value) -> mlua::Result<LuaValue> {
    Ok(match value {
        Value::Null => LuaValue::Nil,
        Value::Bool(b) => LuaValue::Boolean(*b),
        Value::Number(n) => LuaValue::Number(n.as_f64().unwrap_or_default()),
        Value::String(s) => LuaValue::String(lua.create_string(s)?),
        Value::Array(items) => {
            let table = lua.create_table_with_capacity(items.len(), 0)?;
            for item in items.iter().filter(|i| !i.is_null()) {
                table.raw_push(to_lua(lua, item)?)?;
            }
            LuaValue::Table(table)
        }
        Value::Object(map) => {
            let table = lua.create_table_with_capacity(0, map.len())?;
            for (key, item) in map.iter().filter(|(_, i)| !i.is_null()) {
                table.raw_set(key.as_str(), to_lua(lua, item)?)?;
            }
            LuaValue::Table(table)
        }
    })
}

/// The script's result, as Argo CD's `ExecuteHealthLua` reads it.
fn verdict(returned: LuaValue) -> Result<Option<Health>, String> {
    let table = match returned {
        LuaValue::Nil => return Ok(None),
        LuaValue::Table(table) => table,
        other => {
            return Err(format!(
                "expect table output from Lua script, not {}",
                other.type_name()
            ));
        }
    };
    let json = to_json(&LuaValue::Table(table), &mut Vec::new())?;
    // Go's `json.Unmarshal` into `{status, message}`: any other shape is a type error,
    // which Argo CD turns into an empty status.
    let Value::Object(fields) = json else {
        return Ok(None);
    };
    // Go matches field names case-insensitively; of several spellings the last (in the
    // encoder's sorted order) wins.
    let text = |key: &str| {
        let mut found = Ok(String::new());
        for (name, value) in &fields {
            if name.eq_ignore_ascii_case(key) {
                found = match value {
                    Value::Null => Ok(String::new()),
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(()),
                };
            }
        }
        found
    };
    let (Ok(status), Ok(message)) = (text("status"), text("message")) else {
        return Ok(None);
    };
    let code = match status.as_str() {
        "Healthy" => HealthCode::Healthy,
        "Progressing" => HealthCode::Progressing,
        "Suspended" => HealthCode::Suspended,
        "Degraded" => HealthCode::Degraded,
        "Missing" => HealthCode::Missing,
        "Unknown" => HealthCode::Unknown,
        _ => {
            return Ok(Some(Health::new(
                HealthCode::Unknown,
                "Lua returned an invalid health status",
            )));
        }
    };
    Ok(Some(Health::new(code, message)))
}

/// A Lua value as gopher-json encodes it: a table with keys 1..n is an array (an empty one
/// too), one with string keys an object; a table met twice (`seen`) is refused, as gopher-json
/// refuses it.
fn to_json(value: &LuaValue, seen: &mut Vec<*const std::ffi::c_void>) -> Result<Value, String> {
    if let LuaValue::Table(table) = value {
        let at = table.to_pointer();
        if seen.contains(&at) {
            return Err("cannot encode recursively nested tables to JSON".to_string());
        }
        seen.push(at);
    }
    Ok(match value {
        LuaValue::Nil => Value::Null,
        LuaValue::Boolean(b) => Value::Bool(*b),
        LuaValue::Integer(i) => Value::from(*i),
        LuaValue::Number(n) => match serde_json::Number::from_f64(*n) {
            Some(n) => Value::Number(n),
            None => return Err(format!("json: unsupported value: {}", number(*n))),
        },
        LuaValue::String(s) => Value::String(s.to_string_lossy()),
        LuaValue::Table(table) => {
            let length = table.raw_len();
            let mut strings = serde_json::Map::new();
            let mut integers = 0;
            for pair in table.pairs::<LuaValue, LuaValue>() {
                let (key, item) = pair.map_err(|e| message(&e))?;
                match key {
                    LuaValue::String(key) => {
                        strings.insert(key.to_string_lossy(), to_json(&item, seen)?);
                    }
                    LuaValue::Integer(_) => integers += 1,
                    _ => return Err("cannot encode mixed or invalid key types".to_string()),
                }
            }
            if integers > 0 && !strings.is_empty() {
                return Err("cannot encode mixed or invalid key types".to_string());
            }
            if !strings.is_empty() {
                Value::Object(strings)
            } else {
                if integers != length {
                    return Err("cannot encode sparse array".to_string());
                }
                let mut items = Vec::with_capacity(length);
                for index in 1..=length {
                    let item: LuaValue = table.raw_get(index).map_err(|e| message(&e))?;
                    items.push(to_json(&item, seen)?);
                }
                Value::Array(items)
            }
        }
        LuaValue::Function(_) => {
            return Err(
                "json: error calling MarshalJSON for type json.jsonValue: cannot encode function to JSON"
                    .to_string(),
            );
        }
        other => return Err(format!("cannot encode {} to JSON", other.type_name())),
    })
}

/// An error's message without Lua's stack traceback.
fn message(error: &mlua::Error) -> String {
    let text = match error {
        mlua::Error::CallbackError { cause, .. } => return message(cause),
        mlua::Error::MemoryError(_) => "not enough memory".to_string(),
        other => other.to_string(),
    };
    text.split("\nstack traceback:")
        .next()
        .unwrap_or_default()
        .trim_start_matches("runtime error: ")
        .trim_start_matches("syntax error: ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run_script(source: &str, obj: Value, open_libs: bool) -> Result<Option<Health>, String> {
        run(
            &Script {
                source: source.to_string(),
                open_libs,
            },
            &obj,
        )
    }

    const ROLLOUT: &str = r#"
hs = {}
if obj.status ~= nil then
  if obj.status.replicas == obj.status.readyReplicas then
    hs.status = "Healthy"
    hs.message = "all " .. obj.status.replicas .. " replicas ready"
    return hs
  end
  for i, condition in ipairs(obj.status.conditions) do
    if condition.type == "Failed" then
      hs.status = "Degraded"
      hs.message = condition.message
      return hs
    end
  end
end
hs.status = "Progressing"
hs.message = "Waiting for replicas"
return hs
"#;

    #[test]
    fn a_script_in_argo_cd_s_style_reads_obj_and_returns_a_verdict() {
        for (status, expected) in [
            (
                json!({"replicas": 3, "readyReplicas": 3}),
                Health::new(HealthCode::Healthy, "all 3 replicas ready"),
            ),
            (
                json!({"replicas": 3, "readyReplicas": 1, "conditions": [null, {"type": "Failed", "message": "boom"}]}),
                Health::new(HealthCode::Degraded, "boom"),
            ),
            (
                json!({"replicas": 3, "conditions": []}),
                Health::new(HealthCode::Progressing, "Waiting for replicas"),
            ),
        ] {
            let obj = json!({"apiVersion": "example.com/v1", "kind": "Rollout", "status": status});
            assert_eq!(run_script(ROLLOUT, obj, false).unwrap(), Some(expected));
        }
    }

    #[test]
    fn results_are_read_as_argo_cd_reads_them() {
        let obj = json!({});
        for (source, expected) in [
            ("return nil", Ok(None)),
            ("return {}", Ok(None)),
            ("return {status = 1}", Ok(None)),
            (
                "return {status = 'Fine'}",
                Ok(Some(Health::new(
                    HealthCode::Unknown,
                    "Lua returned an invalid health status",
                ))),
            ),
            (
                "return {message = 'x'}",
                Ok(Some(Health::new(
                    HealthCode::Unknown,
                    "Lua returned an invalid health status",
                ))),
            ),
            (
                "return 'Healthy'",
                Err("expect table output from Lua script, not string".to_string()),
            ),
            (
                "return {status = 'Suspended', message = 'paused'}",
                Ok(Some(Health::new(HealthCode::Suspended, "paused"))),
            ),
        ] {
            assert_eq!(run_script(source, obj.clone(), false), expected, "{source}");
        }
    }

    #[test]
    fn the_sandbox_has_argo_cd_s_libraries_and_no_file_access() {
        let obj = json!({});
        let probe = |source: &str, open: bool| run_script(source, json!({}), open);
        assert!(
            probe("return {status = string.upper('x')}", false)
                .unwrap_err()
                .contains("string")
        );
        assert_eq!(
            probe("return {status = string.gsub('healthy', '^h', 'H')}", true).unwrap(),
            Some(Health::of(HealthCode::Healthy))
        );
        for gone in [
            "dofile('/etc/passwd')",
            "loadfile('/etc/passwd')",
            "io.open('/etc/passwd')",
            "os.execute('true')",
            "os.remove('x')",
            "require('io')",
        ] {
            assert!(probe(gone, true).is_err(), "{gone}");
        }
        let time = "local t = os.time({year=2024, month=1, day=2}); return {status = 'Healthy', message = type(t)}";
        assert_eq!(
            probe(time, false).unwrap(),
            Some(Health::new(HealthCode::Healthy, "number"))
        );
        let _ = obj;
    }

    #[test]
    fn numbers_are_written_as_gopher_lua_writes_them() {
        for (n, text) in [
            (1.0, "1"),
            (1.5, "1.5"),
            (1e15, "1000000000000000"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-0.0, "0"),
            (1e-5, "1e-05"),
        ] {
            assert_eq!(number(n), text, "{n}");
        }
        let source =
            "return {status = 'Healthy', message = tostring(obj.n) .. '/' .. tostring(obj.f)}";
        assert_eq!(
            run_script(source, json!({"n": 1e15, "f": 0.5}), false).unwrap(),
            Some(Health::new(HealthCode::Healthy, "1000000000000000/0.5"))
        );
    }

    #[test]
    fn catching_errors_does_not_catch_the_deadline_and_bytecode_is_not_loaded() {
        for source in [
            "while true do pcall(function() while true do end end) end",
            "while true do xpcall(function() while true do end end, function(e) return e end) end",
        ] {
            let error = run_script(source, json!({}), false).unwrap_err();
            assert!(
                error.contains("context deadline exceeded"),
                "{source}: {error}"
            );
        }
        let error = run_script(
            "local co = coroutine.create(function() while true do end end) while true do coroutine.resume(co) end",
            json!({}),
            true,
        )
        .unwrap_err();
        assert!(error.contains("context deadline exceeded"), "{error}");
        let verdict = run_script(
            r"local f, err = loadstring('\27LJ\2') return {status = 'Healthy', message = tostring(f == nil)}",
            json!({}),
            false,
        )
        .unwrap();
        assert_eq!(verdict, Some(Health::new(HealthCode::Healthy, "true")));
        let error =
            run_script("coroutine.create(print) while true do end", json!({}), true).unwrap_err();
        assert!(error.contains("context deadline exceeded"), "{error}");
        assert!(run_script("return newproxy(true)", json!({}), false).is_err());
        let shared = "local t = {} for i = 1, 40 do t = {a = t, b = t} end return {status = 'Healthy', x = t}";
        let error = run_script(shared, json!({}), false).unwrap_err();
        assert!(error.contains("recursively nested"), "{error}");
        assert!(run_script("return {status = 'Healthy', x = 0/0}", json!({}), false).is_err());
        assert_eq!(
            run_script("return {Status = 'Healthy'}", json!({}), false).unwrap(),
            Some(Health::of(HealthCode::Healthy))
        );
        let text = run_script(
            "return loadstring('return {status = \"Healthy\"}')()",
            json!({}),
            false,
        )
        .unwrap();
        assert_eq!(text, Some(Health::of(HealthCode::Healthy)));
        assert!(run_script("return string.dump(function() end)", json!({}), true).is_err());
    }

    #[test]
    fn a_script_that_loops_or_hoards_memory_is_stopped() {
        let started = Instant::now();
        let error = run_script("while true do end", json!({}), false).unwrap_err();
        assert!(error.contains("context deadline exceeded"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let error = run_script(
            "local t = {} local i = 1 while true do t[i] = {i, i, i, i} i = i + 1 end",
            json!({}),
            false,
        )
        .unwrap_err();
        assert!(
            error.contains("not enough memory") || error.contains("deadline"),
            "{error}"
        );
        let error = run_script("return obj.status.missing", json!({}), false).unwrap_err();
        assert!(error.starts_with("<string>:1:"), "{error}");
    }
}
