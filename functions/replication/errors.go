package replication

import (
	"errors"
	"fmt"

	"github.com/aws/smithy-go"
)

// PermanentError marks a failure that retrying cannot fix: bad input, a request AWS
// rejects as invalid (InvalidRequestException, MalformedPolicyException, a name or an
// attribute AWS refuses) or a limit AWS will keep enforcing.
//
// Its type name is part of the deployed contract: aws-lambda-go reports the error's
// reflect type name as the Lambda errorType, and the state machine does not retry
// errors of type spec.PermanentErrorType ("PermanentError"). Handlers must therefore
// return it unwrapped.
type PermanentError struct {
	// Op says what was being converged, e.g. "thing dev-1".
	Op string
	// Err is the underlying failure, wrapped with context.
	Err error
}

// Error returns Op and the underlying error.
func (e *PermanentError) Error() string {
	if e.Err == nil {
		return e.Op + ": permanent failure"
	}
	return e.Op + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *PermanentError) Unwrap() error { return e.Err }

// IsPermanent reports whether err is a failure that retrying cannot fix: a
// *PermanentError anywhere in its chain, or an AWS error whose code says the request
// itself is wrong (see PermanentError). Throttling, service-side, network and context
// errors are not permanent.
func IsPermanent(err error) bool {
	return err != nil && permanentCause(err)
}

// permanentCodes are AWS error codes that a retry of the same request cannot fix.
// Every other code is transient: throttling, service-side failures, and conflicts
// (DeleteConflictException, VersionConflictException, ...) that resolve once
// concurrent work converges.
var permanentCodes = map[string]bool{
	"InvalidRequestException":              true,
	"MalformedPolicyException":             true,
	"ValidationException":                  true,
	"CertificateValidationException":       true,
	"CertificateStateException":            true,
	"CertificateConflictException":         true,
	"RegistrationCodeValidationException":  true,
	"RequestEntityTooLargeException":       true,
	"UnsupportedDocumentEncodingException": true,
	"LimitExceededException":               true,
	"ServiceQuotaExceededException":        true,
	"VersionsLimitExceededException":       true,
	"MethodNotAllowedException":            true,
	"UnauthorizedException":                true,
	"ForbiddenException":                   true,
	"AccessDeniedException":                true,
	"NotConfiguredException":               true,
	"InvalidStateTransitionException":      true,
}

// retryable overrides the classification of an error whose code looks permanent but
// is known to be transient where it occurs (a thing whose principals AWS detaches
// asynchronously, a thing type deprecated less than five minutes ago).
type retryable struct{ err error }

func (e retryable) Error() string { return e.err.Error() }
func (e retryable) Unwrap() error { return e.err }

// invalidInput is bad input detected before any call, e.g. a name AWS would reject.
type invalidInput struct{ msg string }

func (e invalidInput) Error() string { return e.msg }

// invalidf returns an invalidInput error with a formatted message.
func invalidf(format string, args ...any) error {
	return invalidInput{msg: fmt.Sprintf(format, args...)}
}

// permanentCause classifies err by the first AWS error code or client-side parameter
// validation error in its chain.
func permanentCause(err error) bool {
	var pe *PermanentError
	if errors.As(err, &pe) {
		return true
	}
	var rt retryable
	if errors.As(err, &rt) {
		return false
	}
	var ii invalidInput
	if errors.As(err, &ii) {
		return true
	}
	var ipe *smithy.InvalidParamsError
	if errors.As(err, &ipe) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return permanentCodes[ae.ErrorCode()]
	}
	return false
}

// finishErr turns an internal error into what the public methods return: a
// *PermanentError (never wrapped, see PermanentError) or a plain wrapped error.
func finishErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if permanentCause(err) {
		return &PermanentError{Op: op, Err: err}
	}
	return fmt.Errorf("%s: %w", op, err)
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// IsNotFound reports whether err is AWS's answer that the resource does not exist
// (ResourceNotFoundException, from the SDK or a fake returning the SDK's type).
func IsNotFound(err error) bool { return err != nil && errorCode(err) == "ResourceNotFoundException" }

func isAlreadyExists(err error) bool {
	return err != nil && errorCode(err) == "ResourceAlreadyExistsException"
}
