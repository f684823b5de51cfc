package awsfront

import (
	"net/http"
	"strings"
)

// scope is a SigV4 credential scope: AKID/date/region/service/aws4_request.
type scope struct {
	AccessKey, Date, Region, Service string
}

// credentialScope reads the request's credential scope from its Authorization header
// or, for a presigned URL, its X-Amz-Credential query parameter. The signature itself
// is not verified: any access key and secret work, as with moto.
func credentialScope(r *http.Request) (scope, *apiError) {
	cred := ""
	if auth := r.Header.Get("Authorization"); auth != "" {
		alg, rest, _ := strings.Cut(auth, " ")
		if alg != "AWS4-HMAC-SHA256" {
			return scope{}, incompleteSignature("Authorization header uses %q; only AWS4-HMAC-SHA256 (SigV4) is supported", alg)
		}
		for _, part := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(part), "Credential="); ok {
				cred = v
			}
		}
		if cred == "" {
			return scope{}, incompleteSignature("Authorization header has no Credential=AKID/date/region/service/aws4_request")
		}
	} else if v := r.URL.Query().Get("X-Amz-Credential"); v != "" {
		cred = v
	} else {
		return scope{}, &apiError{status: http.StatusForbidden, code: "MissingAuthenticationTokenException",
			msg: "Missing Authentication Token: sign the request with SigV4 (any access key and secret; the simulator reads the Region and service from the credential scope)"}
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return scope{}, incompleteSignature("credential %q is not AKID/date/region/service/aws4_request", cred)
	}
	s := scope{AccessKey: parts[0], Date: parts[1], Region: parts[2], Service: parts[3]}
	switch {
	case s.Region == "":
		return scope{}, incompleteSignature("credential scope %q names no Region", cred)
	case s.Service == "":
		return scope{}, incompleteSignature("credential scope %q names no service", cred)
	}
	return s, nil
}

func incompleteSignature(format string, args ...any) *apiError {
	return newAPIError(http.StatusBadRequest, "IncompleteSignatureException", format, args...)
}
