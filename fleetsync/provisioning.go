package fleetsync

import (
	"context"

	"github.com/iot-dr/iot-dr/functions/replication"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/verify"
)

// Kinds of the onboarding resources in a Result.
const (
	KindRoleAlias            = "roleAlias"
	KindProvisioningTemplate = "provisioningTemplate"
	KindCACertificate        = "caCertificate"
)

// onboardingPhases are the role alias, provisioning template and CA certificate
// phases (templates before the CAs whose registration configs name them), when both
// sides have clients for them.
func (e *engine) onboardingPhases() []phaseSpec {
	src, tgt := e.opts.SourceProvisioning, e.opts.TargetProvisioning
	if src == nil || tgt == nil {
		return nil
	}
	return []phaseSpec{
		{"role aliases", replication.RoleAliasNames(src), e.onboarding(KindRoleAlias, spec.KindRoleAlias, e.rep.RoleAlias, e.cmp.RoleAlias)},
		{"provisioning templates", replication.ProvisioningTemplateNames(src), e.onboarding(KindProvisioningTemplate, spec.KindProvisioningTemplate, e.rep.ProvisioningTemplate, e.cmp.ProvisioningTemplate)},
		{"CA certificates", replication.CACertificateIDs(src), e.onboarding(KindCACertificate, spec.KindCACertificate, e.rep.CACertificate, e.cmp.CACertificate)},
	}
}

// onboarding converges (or, in a dry run, compares) one onboarding resource, within
// its mark in the target. What AWS refuses is a failed result with AWS's reason; a CA
// registered in SNI_ONLY mode in place of the source's DEFAULT says so in its changes
// (replication.CAModeNote).
func (e *engine) onboarding(kind, stateKind string, converge func(context.Context, string) (replication.Outcome, error), compare func(context.Context, string) ([]verify.Difference, error)) func(context.Context, string) Result {
	return func(ctx context.Context, name string) Result {
		if e.opts.DryRun {
			return dryResult(kind, name, func() ([]verify.Difference, error) { return compare(ctx, name) })
		}
		return e.converge(ctx, kind, name, e.marked(ctx, []string{spec.StateKey(stateKind, name)}, e.withTags(ctx, stateKind, name, func() ([]string, error) {
			o, err := converge(ctx, name)
			return o.Changes, err
		})))
	}
}
