package awsfront

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/aws/smithy-go"
)

// apiError is an error answer: HTTP status, AWS error code and the body's members
// (message included).
type apiError struct {
	status int
	code   string
	msg    string
	// members are the exception's other modelled members (resourceId, ...).
	members map[string]any
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func newAPIError(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// errorStatus is the HTTP status AWS answers each exception with (from the IoT, IoT
// data-plane, Route 53 and SSM models' httpError traits). Codes not listed answer 400.
var errorStatus = map[string]int{
	"InvalidRequestException":              400,
	"CertificateValidationException":       400,
	"MalformedPolicyException":             400,
	"SqlParseException":                    400,
	"IndexNotReadyException":               400,
	"InvalidQueryException":                400,
	"UnauthorizedException":                401,
	"ResourceNotFoundException":            404,
	"NoSuchHealthCheck":                    404,
	"NoSuchHostedZone":                     404,
	"NotConfiguredException":               404,
	"MethodNotAllowedException":            405,
	"CertificateStateException":            406,
	"ResourceAlreadyExistsException":       409,
	"VersionConflictException":             409,
	"DeleteConflictException":              409,
	"VersionsLimitExceededException":       409,
	"ConflictingResourceUpdateException":   409,
	"InvalidStateTransitionException":      409,
	"CertificateConflictException":         409,
	"ConflictException":                    409,
	"LimitExceededException":               410,
	"RequestEntityTooLargeException":       413,
	"UnsupportedDocumentEncodingException": 415,
	"ThrottlingException":                  429,
	"InternalFailureException":             500,
	"InternalException":                    500,
	"InternalServerError":                  500,
	"ServiceUnavailableException":          503,
}

// fromError turns what a fake returned into AWS's answer: a modelled exception keeps
// its code, message and members; the SDK's client-side validation errors become the
// InvalidRequestException AWS's own validation answers; anything else is an
// InternalFailureException.
func fromError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var bad *badInput
	if errors.As(err, &bad) {
		return newAPIError(http.StatusBadRequest, "InvalidRequestException", "%s", bad.msg)
	}
	var params *smithy.InvalidParamsError
	if errors.As(err, &params) {
		return newAPIError(http.StatusBadRequest, "InvalidRequestException", "%s", strings.TrimSpace(params.Error()))
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		out := &apiError{code: api.ErrorCode(), msg: api.ErrorMessage(), status: http.StatusBadRequest}
		if s, ok := errorStatus[out.code]; ok {
			out.status = s
		}
		// The exception's other members (resourceId, resourceArn, ...) go in the body too.
		if m, ok := toJSON(reflect.ValueOf(api)).(map[string]any); ok {
			delete(m, "message")
			if len(m) > 0 {
				out.members = m
			}
		}
		return out
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return newAPIError(http.StatusInternalServerError, "InternalFailureException", "request cancelled: %v", err)
	}
	return newAPIError(http.StatusInternalServerError, "InternalFailureException", "%v", err)
}

// writeJSONError answers in the REST-JSON and JSON 1.1 error shape: the code in
// X-Amzn-Errortype and __type, the message in message.
func writeJSONError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"message": e.msg, "__type": e.code}
	for k, v := range e.members {
		body[k] = v
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", e.code)
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}
