//! The wire form of `weft serve`'s protocol (`hil-tests/serve/PROTOCOL.md`): one JSON object a
//! line each way. Requests carry an `id` (a number or a string) that their reply carries
//! back; error codes follow JSON-RPC 2.0 §5.1 for the protocol's own errors, and weft's exit
//! codes (1 refused, 3 unavailable, 4 timeout) for what the network or the radio said.

use serde_json::{json, Map, Value};

use crate::error::Failure;
use crate::Exit;

/// Error codes of replies.
pub mod code {
    /// The line is not JSON (JSON-RPC 2.0 §5.1).
    pub const PARSE_ERROR: i64 = -32700;
    /// JSON, but not a request: no `id` (a number or a string), or no `method` string.
    pub const INVALID_REQUEST: i64 = -32600;
    /// No such method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// The method's parameters are wrong (weft's exit code 2, a usage error).
    pub const INVALID_PARAMS: i64 = -32602;
    /// The device or the protocol said no (exit code 1).
    pub const REFUSED: i64 = 1;
    /// The radio or the store is unavailable (exit code 3).
    pub const UNAVAILABLE: i64 = 3;
    /// No answer in time (exit code 4).
    pub const TIMEOUT: i64 = 4;
}

/// The longest request line read, in octets: a longer one is refused and the connection closed.
pub const MAX_LINE: usize = 1 << 20;

/// One request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub id: Value,
    pub method: String,
    pub params: Map<String, Value>,
}

/// Why a line is not a request: the id to answer with (null when it could not be read), the
/// code and the message.
#[derive(Debug, Clone, PartialEq)]
pub struct Bad {
    pub id: Value,
    pub code: i64,
    pub message: String,
}

impl Request {
    /// Reads one request line.
    pub fn parse(line: &str) -> Result<Request, Bad> {
        let bad = |id: &Value, code, message: &str| Bad {
            id: id.clone(),
            code,
            message: message.to_string(),
        };
        let v: Value = serde_json::from_str(line)
            .map_err(|e| bad(&Value::Null, code::PARSE_ERROR, &format!("not JSON: {e}")))?;
        let Value::Object(mut o) = v else {
            return Err(bad(
                &Value::Null,
                code::INVALID_REQUEST,
                "a request is a JSON object: {\"id\":1,\"method\":\"status\",\"params\":{}}",
            ));
        };
        let id =
            match o.remove("id") {
                Some(id @ (Value::Number(_) | Value::String(_))) => id,
                _ => return Err(bad(
                    &Value::Null,
                    code::INVALID_REQUEST,
                    "a request needs an \"id\", a number or a string, which its reply carries back",
                )),
            };
        let method = match o.remove("method") {
            Some(Value::String(m)) => m,
            _ => {
                return Err(bad(
                    &id,
                    code::INVALID_REQUEST,
                    "a request needs a \"method\" string",
                ))
            }
        };
        let params = match o.remove("params") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(p)) => p,
            Some(_) => return Err(bad(&id, code::INVALID_PARAMS, "\"params\" is an object")),
        };
        Ok(Request { id, method, params })
    }
}

/// A reply carrying `result`.
pub fn result(id: &Value, result: Value) -> String {
    json!({"id": id, "result": result}).to_string()
}

/// A reply carrying an error.
pub fn error(id: &Value, code: i64, message: &str) -> String {
    json!({"id": id, "error": {"code": code, "message": message}}).to_string()
}

/// The error code a command's failure has (its exit code, or invalid params for a usage
/// error).
pub fn failure_code(f: &Failure) -> i64 {
    match f.exit() {
        Exit::Usage => code::INVALID_PARAMS,
        Exit::Refused => code::REFUSED,
        Exit::Timeout => code::TIMEOUT,
        Exit::Ok | Exit::Unavailable => code::UNAVAILABLE,
    }
}

/// The exit code a client gives for an error `code` (the inverse of [`failure_code`]; the
/// protocol's own errors are usage errors).
pub fn exit_of(code: i64) -> Exit {
    match code {
        code::REFUSED => Exit::Refused,
        code::UNAVAILABLE => Exit::Unavailable,
        code::TIMEOUT => Exit::Timeout,
        _ => Exit::Usage,
    }
}

/// A reply to `id` for a command's outcome.
pub fn outcome(id: &Value, r: Result<Value, Failure>) -> String {
    match r {
        Ok(v) => result(id, v),
        Err(f) => error(id, failure_code(&f), &f.1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_what_is_wrong_with_them() {
        let r = Request::parse(r#"{"id":1,"method":"status","params":{}}"#).unwrap();
        assert_eq!(r.id, json!(1));
        assert_eq!(r.method, "status");
        let r = Request::parse(r#"{"id":"a","method":"status"}"#).unwrap();
        assert!(r.params.is_empty());
        let e = Request::parse("{not json").unwrap_err();
        assert_eq!((e.id, e.code), (Value::Null, code::PARSE_ERROR));
        let e = Request::parse("[1]").unwrap_err();
        assert_eq!(e.code, code::INVALID_REQUEST);
        let e = Request::parse(r#"{"method":"status"}"#).unwrap_err();
        assert_eq!(e.code, code::INVALID_REQUEST);
        let e = Request::parse(r#"{"id":{},"method":"status"}"#).unwrap_err();
        assert_eq!(e.code, code::INVALID_REQUEST);
        let e = Request::parse(r#"{"id":7}"#).unwrap_err();
        assert_eq!((e.id, e.code), (json!(7), code::INVALID_REQUEST));
        let e = Request::parse(r#"{"id":7,"method":"status","params":[]}"#).unwrap_err();
        assert_eq!((e.id, e.code), (json!(7), code::INVALID_PARAMS));
    }

    proptest::proptest! {
        /// Whatever a client writes, the server reads a request or says what is wrong with
        /// it; an error reply always carries an id it can be matched by (null when unreadable).
        #[test]
        fn any_line_gets_a_request_or_an_error(line in ".{0,200}") {
            if let Err(bad) = Request::parse(&line) {
                proptest::prop_assert!(matches!(bad.id, Value::Null | Value::Number(_) | Value::String(_)));
                let reply: Value = serde_json::from_str(&error(&bad.id, bad.code, &bad.message)).unwrap();
                proptest::prop_assert_eq!(&reply["id"], &bad.id);
            }
        }

        #[test]
        fn json_objects_of_any_shape_are_read_or_refused(
            id in proptest::option::of(0u64..10),
            method in proptest::option::of("[a-z.]{0,12}"),
            params in proptest::option::of(proptest::prop_oneof![
                proptest::strategy::Just(json!({})), proptest::strategy::Just(json!([1])),
                proptest::strategy::Just(json!("x")), proptest::strategy::Just(Value::Null)]),
        ) {
            let mut o = Map::new();
            if let Some(i) = id { o.insert("id".into(), json!(i)); }
            if let Some(m) = &method { o.insert("method".into(), json!(m)); }
            if let Some(p) = &params { o.insert("params".into(), p.clone()); }
            let r = Request::parse(&Value::Object(o).to_string());
            let ok = id.is_some() && method.is_some()
                && params.as_ref().is_none_or(|p| p.is_object() || p.is_null());
            proptest::prop_assert_eq!(r.is_ok(), ok);
        }
    }

    #[test]
    fn failures_keep_their_exit_code_across_the_wire() {
        for exit in [Exit::Refused, Exit::Usage, Exit::Unavailable, Exit::Timeout] {
            let f = Failure::new(exit, "x");
            assert_eq!(exit_of(failure_code(&f)), exit);
        }
        assert_eq!(exit_of(code::METHOD_NOT_FOUND), Exit::Usage);
    }
}
