package replication

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
)

// maxPolicyVersions is how many versions AWS IoT keeps per policy.
const maxPolicyVersions = 5

// runCache remembers, within one Run (a Reconcile or a fleet sync), what has already
// been converged so that a policy shared by a whole fleet is read once rather than
// once per thing.
type runCache struct {
	policies sync.Map // policy name -> struct{}
}

// RewriteRegion returns doc with the Region of every ARN in the aws, aws-cn and
// aws-us-gov partitions changed from `from` to `to`
// (arn:aws:iot:from:... -> arn:aws:iot:to:...). Other text is left untouched.
func RewriteRegion(doc, from, to string) string {
	if from == "" || from == to || !strings.Contains(doc, from) {
		return doc
	}
	var b strings.Builder
	rest := doc
	for {
		i := strings.Index(rest, "arn:")
		if i < 0 {
			b.WriteString(rest)
			return b.String()
		}
		b.WriteString(rest[:i])
		rest = rest[i:]
		// rest = "arn:<partition>:<service>:<region>:..."
		n, ok := regionField(rest, from)
		if !ok {
			b.WriteString("arn:")
			rest = rest[len("arn:"):]
			continue
		}
		b.WriteString(rest[:n])
		b.WriteString(to)
		rest = rest[n+len(from):]
	}
}

// regionField returns the offset of the Region field in s, which starts with "arn:",
// when the partition is one RewriteRegion handles and the Region equals region.
func regionField(s, region string) (int, bool) {
	p := len("arn:")
	end := strings.IndexByte(s[p:], ':')
	if end < 0 {
		return 0, false
	}
	switch s[p : p+end] {
	case "aws", "aws-cn", "aws-us-gov":
	default:
		return 0, false
	}
	p += end + 1
	end = strings.IndexByte(s[p:], ':')
	if end < 0 || !validService(s[p:p+end]) {
		return 0, false
	}
	p += end + 1
	if !strings.HasPrefix(s[p:], region+":") {
		return 0, false
	}
	return p, true
}

func validService(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// SamePolicyDocument reports whether two policy documents are the same JSON value,
// ignoring whitespace and key order; documents that are not JSON are compared as
// text, ignoring leading and trailing space. Rewrite the Region first
// (RewriteRegion) to compare a source document with its replica.
func SamePolicyDocument(a, b string) bool {
	if a == b {
		return true
	}
	ca, errA := canonicalJSON(a)
	cb, errB := canonicalJSON(b)
	if errA != nil || errB != nil {
		return strings.TrimSpace(a) == strings.TrimSpace(b)
	}
	return bytes.Equal(ca, cb)
}

func canonicalJSON(s string) ([]byte, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v) // maps are marshalled with sorted keys
}

// CompactPolicyDocument renders a policy document as SamePolicyDocument compares it:
// JSON on one line with sorted keys, or doc as is when it is not JSON.
func CompactPolicyDocument(doc string) string {
	if b, err := canonicalJSON(doc); err == nil {
		return string(b)
	}
	return doc
}

// syncPolicy makes the target's policy name have the source's default document, with
// the Region rewritten.
func (r *Replicator) syncPolicy(ctx context.Context, name string, rec *recorder, cache *runCache) error {
	if cache != nil {
		if _, done := cache.policies.Load(name); done {
			return nil
		}
	}
	src, err := r.Source.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(name)})
	if err != nil {
		// NotFound too is transient: AWS refuses to delete an attached policy, so it
		// is a race with a detach-and-delete in the source that a retry will see.
		return fmt.Errorf("get policy %s in %s: %w", name, r.SourceRegion, err)
	}
	want := RewriteRegion(aws.ToString(src.PolicyDocument), r.SourceRegion, r.TargetRegion)
	for attempt := 0; ; attempt++ {
		tgt, err := r.Target.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(name)})
		switch {
		case IsNotFound(err):
			_, err = r.Target.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(want)})
			if isAlreadyExists(err) && attempt == 0 {
				continue // created concurrently: compare documents
			}
			if err != nil {
				return fmt.Errorf("create policy %s: %w", name, err)
			}
			rec.add("created policy %s", name)
		case err != nil:
			return fmt.Errorf("get policy %s in %s: %w", name, r.TargetRegion, err)
		case !SamePolicyDocument(want, aws.ToString(tgt.PolicyDocument)):
			if err := r.newPolicyVersion(ctx, name, want); err != nil {
				return err
			}
			rec.add("updated policy %s", name)
		}
		break
	}
	if cache != nil {
		cache.policies.Store(name, struct{}{})
	}
	return nil
}

// newPolicyVersion makes doc the target policy's default version, first deleting the
// oldest non-default version when the policy already has the maximum.
func (r *Replicator) newPolicyVersion(ctx context.Context, name, doc string) error {
	vs, err := r.Target.ListPolicyVersions(ctx, &iot.ListPolicyVersionsInput{PolicyName: aws.String(name)})
	if err != nil {
		return fmt.Errorf("list versions of policy %s: %w", name, err)
	}
	if len(vs.PolicyVersions) >= maxPolicyVersions {
		old := vs.PolicyVersions[:0:0]
		for _, v := range vs.PolicyVersions {
			if !v.IsDefaultVersion {
				old = append(old, v)
			}
		}
		sort.Slice(old, func(i, j int) bool {
			ti, tj := aws.ToTime(old[i].CreateDate), aws.ToTime(old[j].CreateDate)
			if !ti.Equal(tj) {
				return ti.Before(tj)
			}
			return versionLess(aws.ToString(old[i].VersionId), aws.ToString(old[j].VersionId))
		})
		if len(old) > 0 {
			id := aws.ToString(old[0].VersionId)
			_, err := r.Target.DeletePolicyVersion(ctx, &iot.DeletePolicyVersionInput{PolicyName: aws.String(name), PolicyVersionId: aws.String(id)})
			if err != nil && !IsNotFound(err) {
				return fmt.Errorf("delete version %s of policy %s: %w", id, name, err)
			}
		}
	}
	_, err = r.Target.CreatePolicyVersion(ctx, &iot.CreatePolicyVersionInput{
		PolicyName: aws.String(name), PolicyDocument: aws.String(doc), SetAsDefault: true,
	})
	if err != nil {
		return fmt.Errorf("create version of policy %s: %w", name, err)
	}
	return nil
}

// versionLess orders numeric policy version ids ("2" < "10").
func versionLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// cleanupPolicy deletes the target policy when nothing in the target is attached to
// it any more and the source no longer has it.
func (r *Replicator) cleanupPolicy(ctx context.Context, name string, rec *recorder) error {
	_, err := r.Source.GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(name)})
	switch {
	case err == nil:
		return nil // still defined in the source: keep it
	case !IsNotFound(err):
		return fmt.Errorf("get policy %s in %s: %w", name, r.SourceRegion, err)
	}
	used, err := policyHasTargets(ctx, r.Target, name)
	if err != nil {
		if IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("list targets of policy %s: %w", name, err)
	}
	if used {
		return nil
	}
	vs, err := r.Target.ListPolicyVersions(ctx, &iot.ListPolicyVersionsInput{PolicyName: aws.String(name)})
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list versions of policy %s: %w", name, err)
	}
	// AWS deletes a policy only once its non-default versions are gone.
	for _, v := range vs.PolicyVersions {
		if v.IsDefaultVersion {
			continue
		}
		_, err := r.Target.DeletePolicyVersion(ctx, &iot.DeletePolicyVersionInput{PolicyName: aws.String(name), PolicyVersionId: v.VersionId})
		if err != nil && !IsNotFound(err) {
			return fmt.Errorf("delete version %s of policy %s: %w", aws.ToString(v.VersionId), name, err)
		}
	}
	_, err = r.Target.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String(name)})
	switch {
	case IsNotFound(err):
		return nil
	case errorCode(err) == "DeleteConflictException":
		return nil // attached again concurrently: keep it
	case err != nil:
		return fmt.Errorf("delete policy %s: %w", name, err)
	}
	rec.add("deleted policy %s", name)
	return nil
}
