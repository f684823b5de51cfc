package awsfront

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// ssmTargetPrefix is the X-Amz-Target prefix of SSM's JSON 1.1 protocol.
const ssmTargetPrefix = "AmazonSSM."

// serveSSM answers SSM's JSON 1.1 protocol (POST /, the operation in X-Amz-Target)
// for GetParameter and PutParameter on the Region's parameter store.
func (h *handler) serveSSM(w http.ResponseWriter, r *http.Request, b *backend, body []byte) string {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), ssmTargetPrefix)
	if r.Method != http.MethodPost || !ok {
		writeJSONError(w, newAPIError(http.StatusBadRequest, "UnknownOperationException",
			"SSM requests are POST / with X-Amz-Target: %s<Operation>", ssmTargetPrefix))
		return ""
	}
	if b.SSM == nil {
		writeJSONError(w, newAPIError(http.StatusBadRequest, "UnknownOperationException", "SSM is not served for %s", b.Name))
		return op
	}
	decode := func(v any) bool {
		if err := json.Unmarshal(body, v); err != nil {
			writeJSONError(w, newAPIError(http.StatusBadRequest, "SerializationException", "request body is not a valid %s input: %v", op, err))
			return false
		}
		return true
	}
	switch op {
	case "GetParameter":
		var in ssm.GetParameterInput
		if !decode(&in) {
			return op
		}
		out, err := b.SSM.GetParameter(r.Context(), &in)
		if err != nil {
			writeJSONError(w, fromError(err))
			return op
		}
		p := out.Parameter
		writeJSON(w, http.StatusOK, map[string]any{"Parameter": map[string]any{
			"Name": aws.ToString(p.Name), "ARN": aws.ToString(p.ARN), "Type": string(p.Type), "DataType": aws.ToString(p.DataType),
			"Value": aws.ToString(p.Value), "Version": p.Version, "LastModifiedDate": epochSeconds(aws.ToTime(p.LastModifiedDate)),
		}})
	case "PutParameter":
		var in ssm.PutParameterInput
		if !decode(&in) {
			return op
		}
		out, err := b.SSM.PutParameter(r.Context(), &in)
		if err != nil {
			writeJSONError(w, fromError(err))
			return op
		}
		writeJSON(w, http.StatusOK, map[string]any{"Version": out.Version, "Tier": string(out.Tier)})
	default:
		writeJSONError(w, newAPIError(http.StatusBadRequest, "UnknownOperationException",
			"SSM operation %q is not served by the simulator; it serves GetParameter and PutParameter", op))
	}
	return op
}
