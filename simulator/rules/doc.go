// Package rules is the simulator's AWS IoT rules engine: a parser and evaluator
// for the subset of AWS IoT SQL (version 2016-03-23) that the project's capture
// rules use, and an Engine that runs rule actions (with AWS's error-action
// message format) for each message published on the simulated broker.
//
// Supported SQL, and nothing else (anything outside it is refused by Parse with
// a *SyntaxError naming the construct and its 1-based position):
//
//   - SELECT list: `*` (first item only), then expressions with an optional
//     `AS alias`. A bare field reference without alias is output under its last
//     path segment; any other expression needs an alias.
//   - Expressions: 'string' literals (a doubled single quote stands for one), numbers, true/false,
//     field references, nested with dots (state.reported.temp), the functions
//     newuuid(), timestamp(), topic(), topic(n), floor(x), upper(s), lower(s),
//     unary minus, + - * / with the usual precedence, parentheses, the
//     comparisons = <> < > <= >=, and AND, OR, NOT.
//   - FROM 'mqtt/topic/filter' with + and # wildcards. As in MQTT, a filter
//     whose first level is a wildcard does not match topics that start with $
//     ($aws/...); spell the $aws prefix out.
//   - Keywords and function names are case-insensitive; field names are not.
//
// Semantics follow the AWS IoT SQL reference: values are Int, Decimal, String,
// Boolean, Array, Object, Null or Undefined. A missing field is Undefined and
// is left out of the output; operators and functions given Undefined yield
// Undefined, and a WHERE clause that is not exactly true does not fire. Int op
// Int stays Int (division truncates toward zero; an overflowing result becomes
// Decimal); anything mixed with a Decimal is Decimal; strings that look like
// numbers convert for - * / and ordering comparisons; + with a String operand
// concatenates. Numbers from payloads keep their exact JSON text
// (json.Number) in the output; computed numbers are written as json.Number
// too, integral values without exponent or fraction.
//
// Payloads: an empty payload is an empty object. A payload that is not a JSON
// object (binary, malformed, or a JSON array/scalar) makes Evaluate fail with
// ErrPayloadNotJSONObject as soon as the statement needs the payload (SELECT *
// or a field reference reached during evaluation); a WHERE clause that only
// looks at topic() can still reject such a message quietly. AWS would hand
// `SELECT *` of a binary payload to actions as raw bytes, which every action
// this project uses (DynamoDBv2) then rejects; the Engine reports it the same
// way, through the rule's error action.
//
// What is not modelled: SQL versions other than 2016-03-23 semantics, SET,
// CASE, IN, LIKE, %, array/object literals and indexing, nested SELECT, SELECT
// VALUE, other functions (principal(), clientid(), encode(), get_*()...),
// substitution templates, Basic Ingest ($aws/rules/...) topic rewriting, and
// rule-level settings such as ruleDisabled, action retries and batching.
//
// Delivery: with the zero Delivery the Engine runs a matched message's action
// synchronously on the caller's goroutine, exactly once, in order: kinder
// than AWS, which runs actions asynchronously, at least once and in no
// particular order. WithDelivery models that: DuplicateRate runs an action
// twice for one message (same SELECT output, so a newuuid() key is the same
// in both runs), ReorderWindow runs each run after a random delay in
// [0, ReorderWindow) on a timer the Engine owns (with the handler's context
// stripped of its cancellation), so actions for later messages overtake
// earlier ones; Seed fixes the draws. Pending counts delayed runs not yet
// finished, Flush waits for them, Close stops the timers. Each failed run
// sends its own error-action message. WithMeter counts rules triggered (one
// per rule and matching message) and actions executed (every action and
// error-action run, duplicates included), the units AWS IoT Core bills.
//
// This package is for the simulator and tests only; it is not a production
// rules engine.
package rules
