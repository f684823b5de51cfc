package awsdrill

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// Deployment is what the drill needs to know about the primary and secondary stacks.
type Deployment struct {
	PrimaryRegion   string
	SecondaryRegion string
	// Domain is the device-facing custom domain with the failover records.
	Domain string
	// PrimaryHealthCheckID and SecondaryHealthCheckID are the Route 53 health checks
	// behind the PRIMARY and SECONDARY failover records.
	PrimaryHealthCheckID   string
	SecondaryHealthCheckID string
	// ForceFailParameter is the primary probe's force-fail switch, an SSM parameter in
	// PrimaryRegion.
	ForceFailParameter string
	// PrimaryEndpoint and SecondaryEndpoint are the Regions' IoT data endpoints
	// (informational: the failover records say what the domain answers).
	PrimaryEndpoint, SecondaryEndpoint string
}

// Validate reports the first missing field.
func (d Deployment) Validate() error {
	for _, f := range []struct{ name, v string }{
		{"primary region", d.PrimaryRegion}, {"secondary region", d.SecondaryRegion}, {"domain", d.Domain},
		{"primary health check id", d.PrimaryHealthCheckID}, {"secondary health check id", d.SecondaryHealthCheckID},
		{"force-fail parameter", d.ForceFailParameter},
	} {
		if f.v == "" {
			return fmt.Errorf("deployment: %s is missing", f.name)
		}
	}
	if d.PrimaryRegion == d.SecondaryRegion {
		return fmt.Errorf("deployment: primary and secondary are both in %s", d.PrimaryRegion)
	}
	return nil
}

// LoadOutputs reads the stacks' outputs from one or two files, each the JSON that
// `pulumi stack output --json` prints. A file holds either one stack's outputs (its
// "role" output says which) or both, merged as {"primary": {...}, "secondary": {...}}.
// Between them the files must give exactly one primary and one secondary stack.
func LoadOutputs(paths ...string) (Deployment, error) {
	primary, secondary, err := ReadOutputs(paths...)
	if err != nil {
		return Deployment{}, err
	}
	d, err := DeploymentFromOutputs(primary, secondary)
	if err != nil {
		return Deployment{}, fmt.Errorf("stack outputs: %w", err)
	}
	return d, nil
}

// ReadOutputs reads the files LoadOutputs reads and returns each stack's raw outputs,
// for readers that need more of them than Deployment holds (`iotdr readiness`).
func ReadOutputs(paths ...string) (primary, secondary map[string]any, err error) {
	if len(paths) == 0 {
		return nil, nil, errors.New("no stack outputs: pass --stack-outputs FILE (see -h)")
	}
	stacks := map[string]map[string]any{}
	from := map[string]string{}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("stack outputs: %w", err)
		}
		got, err := splitOutputs(data)
		if err != nil {
			return nil, nil, fmt.Errorf("stack outputs %s: %w", path, err)
		}
		for role, out := range got {
			if prev, dup := from[role]; dup {
				return nil, nil, fmt.Errorf("stack outputs: both %s and %s hold the %s stack's outputs", prev, path, role)
			}
			stacks[role], from[role] = out, path
		}
	}
	for _, role := range []string{spec.RolePrimary, spec.RoleSecondary} {
		if stacks[role] == nil {
			return nil, nil, fmt.Errorf("stack outputs: no %s stack outputs in %s: pass `pulumi stack output --json` of both stacks "+
				"(--stack-outputs twice, or one file {\"primary\": ..., \"secondary\": ...})", role, strings.Join(paths, ", "))
		}
	}
	return stacks[spec.RolePrimary], stacks[spec.RoleSecondary], nil
}

// splitOutputs returns the stacks in one document by role.
func splitOutputs(data []byte) (map[string]map[string]any, error) {
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not the JSON object `pulumi stack output --json` prints: %w", err)
	}
	if doc == nil {
		return nil, errors.New("empty document")
	}
	if role, ok := doc[spec.OutputRole].(string); ok {
		if role != spec.RolePrimary && role != spec.RoleSecondary {
			return nil, fmt.Errorf("output %q is %q, want %q or %q", spec.OutputRole, role, spec.RolePrimary, spec.RoleSecondary)
		}
		return map[string]map[string]any{role: doc}, nil
	}
	out := map[string]map[string]any{}
	for _, role := range []string{spec.RolePrimary, spec.RoleSecondary} {
		v, ok := doc[role]
		if !ok {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%q is not an object of stack outputs", role)
		}
		if r, _ := m[spec.OutputRole].(string); r != "" && r != role {
			return nil, fmt.Errorf("%q holds the outputs of the %s stack", role, r)
		}
		out[role] = m
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("neither one stack's outputs (no %q output) nor {\"primary\": ..., \"secondary\": ...}", spec.OutputRole)
	}
	return out, nil
}

// DeploymentFromOutputs checks that the two stacks' outputs describe one deployment and
// extracts what the drill needs.
func DeploymentFromOutputs(primary, secondary map[string]any) (Deployment, error) {
	var errs []error
	get := func(stack string, out map[string]any, key string, required bool) string {
		v, ok := out[key]
		s, isString := v.(string)
		switch {
		case !ok && required:
			errs = append(errs, fmt.Errorf("the %s stack has no output %q (deploy it with this version of iot-dr)", stack, key))
		case ok && !isString:
			errs = append(errs, fmt.Errorf("the %s stack's output %q is not a string", stack, key))
		case ok && required && strings.TrimSpace(s) == "":
			errs = append(errs, fmt.Errorf("the %s stack's output %q is empty", stack, key))
		}
		return strings.TrimSpace(s)
	}
	d := Deployment{
		PrimaryRegion:          get(spec.RolePrimary, primary, spec.OutputRegion, true),
		SecondaryRegion:        get(spec.RoleSecondary, secondary, spec.OutputRegion, true),
		Domain:                 normalise(get(spec.RolePrimary, primary, spec.OutputDomain, true)),
		PrimaryHealthCheckID:   get(spec.RolePrimary, primary, spec.OutputHealthCheckID, true),
		SecondaryHealthCheckID: get(spec.RoleSecondary, secondary, spec.OutputHealthCheckID, true),
		ForceFailParameter:     get(spec.RolePrimary, primary, spec.OutputProbeForceFailParameter, true),
		PrimaryEndpoint:        get(spec.RolePrimary, primary, spec.OutputIoTEndpoint, false),
		SecondaryEndpoint:      get(spec.RoleSecondary, secondary, spec.OutputIoTEndpoint, false),
	}
	secDomain := normalise(get(spec.RoleSecondary, secondary, spec.OutputDomain, true))
	secPrimaryHC := get(spec.RoleSecondary, secondary, spec.OutputPrimaryHealthCheckID, true)
	if len(errs) > 0 {
		return Deployment{}, errors.Join(errs...)
	}
	// Outputs of two different deployments would make the drill fail over one and
	// watch the other.
	if d.Domain != secDomain {
		errs = append(errs, fmt.Errorf("the stacks serve different domains: %s (primary) and %s (secondary)", d.Domain, secDomain))
	}
	if secPrimaryHC != d.PrimaryHealthCheckID {
		errs = append(errs, fmt.Errorf("the secondary stack's failover record uses primary health check %s, but the primary stack's is %s: "+
			"the outputs are from different deployments, or the secondary needs `pulumi up`", secPrimaryHC, d.PrimaryHealthCheckID))
	}
	if r := get(spec.RolePrimary, primary, spec.OutputSecondaryRegion, false); r != "" && r != d.SecondaryRegion {
		errs = append(errs, fmt.Errorf("the primary stack replicates to %s, but the secondary stack is in %s", r, d.SecondaryRegion))
	}
	if r := get(spec.RoleSecondary, secondary, spec.OutputPrimaryRegion, false); r != "" && r != d.PrimaryRegion {
		errs = append(errs, fmt.Errorf("the secondary stack's primary is %s, but the primary stack is in %s", r, d.PrimaryRegion))
	}
	if len(errs) == 0 {
		errs = append(errs, d.Validate())
	}
	if err := errors.Join(errs...); err != nil {
		return Deployment{}, err
	}
	return d, nil
}

// normalise lower-cases a DNS name or value and drops the trailing dot.
func normalise(s string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
}
