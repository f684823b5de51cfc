package readiness

import (
	"errors"
	"fmt"
	"strings"

	"github.com/iot-dr/iot-dr/awsdrill"
	"github.com/iot-dr/iot-dr/functions/spec"
)

// FromOutputs fills a Checker's deployment from the two stacks' outputs (the JSON of
// `pulumi stack output --json`), after the same consistency checks the AWS drill makes
// (awsdrill.DeploymentFromOutputs). The clients, Fetch, MinDays and Sample are left to
// the caller.
func FromOutputs(primary, secondary map[string]any) (*Checker, error) {
	d, err := awsdrill.DeploymentFromOutputs(primary, secondary)
	if err != nil {
		return nil, err
	}
	var errs []error
	region := func(role, name string, out map[string]any) Region {
		str := func(key string, required bool) string {
			s, _ := out[key].(string)
			if required && strings.TrimSpace(s) == "" {
				errs = append(errs, fmt.Errorf("the %s stack has no output %q (deploy it with this version of iot-dr)", role, key))
			}
			return strings.TrimSpace(s)
		}
		r := Region{Role: role, Name: name, Endpoint: str(spec.OutputIoTEndpoint, true),
			DomainConfiguration: str(spec.OutputDomainConfiguration, true), HealthCheckID: str(spec.OutputHealthCheckID, true),
			StateTable: str(spec.OutputStateTableName, true), MarkTable: str(spec.OutputMarkTableName, false), DevicePolicy: str(spec.OutputDevicePolicy, false)}
		alarms, ok := out[spec.OutputAlarmNames].([]any)
		if !ok {
			errs = append(errs, fmt.Errorf("the %s stack has no list output %q", role, spec.OutputAlarmNames))
		}
		for _, a := range alarms {
			if s, ok := a.(string); ok && s != "" {
				r.Alarms = append(r.Alarms, s)
			}
		}
		if m, ok := out[spec.OutputAlarmRegions].(map[string]any); ok {
			r.AlarmRegions = map[string]string{}
			for n, reg := range m {
				if s, ok := reg.(string); ok && s != "" {
					r.AlarmRegions[n] = s
				}
			}
		}
		rules, _ := out[spec.OutputCaptureRules].([]any)
		r.Captures = len(rules) > 0
		return r
	}
	zone, _ := secondary[spec.OutputHostedZoneID].(string)
	if zone == "" {
		zone, _ = primary[spec.OutputHostedZoneID].(string)
	}
	c := &Checker{Domain: d.Domain, HostedZoneID: strings.TrimPrefix(strings.TrimSpace(zone), "/hostedzone/"),
		Primary:   region(spec.RolePrimary, d.PrimaryRegion, primary),
		Secondary: region(spec.RoleSecondary, d.SecondaryRegion, secondary)}
	// The device policy has one name in both Regions; stacks of before failback
	// export it from the primary only.
	if c.Primary.DevicePolicy == "" {
		c.Primary.DevicePolicy = spec.DevicePolicyName
	}
	if c.Secondary.DevicePolicy == "" {
		c.Secondary.DevicePolicy = c.Primary.DevicePolicy
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}
