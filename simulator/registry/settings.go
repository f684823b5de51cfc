package registry

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// settings are the account-and-Region singletons of IoT the deployment sets: which
// registry events are published, the fleet-indexing mode and the domain
// configurations. They have a lock of their own, since emit consults them under mu.
type settings struct {
	mu        sync.RWMutex
	eventsOff map[types.EventType]bool
	indexing  indexing // indexing.go
	domains   map[string]*domainConfiguration
}

type domainConfiguration struct {
	name, domain, arn string
	status            types.DomainConfigurationStatus
	service           types.ServiceType
	certs             []string
	changed           time.Time
}

// modelledEvents are the event configurations whose events the registry publishes
// (the registry events of events.go); the others it never publishes, so they read
// as off.
var modelledEvents = []types.EventType{
	types.EventTypeThing, types.EventTypeThingType, types.EventTypeThingTypeAssociation,
	types.EventTypeThingGroup, types.EventTypeThingGroupMembership, types.EventTypeThingGroupHierarchy,
}

// eventTypeOfTopic is the event configuration that governs a registry event topic
// ($aws/events/thingGroupMembership/... is THING_GROUP_MEMBERSHIP).
func eventTypeOfTopic(topic string) types.EventType {
	kind, _, _ := strings.Cut(strings.TrimPrefix(topic, "$aws/events/"), "/")
	var b strings.Builder
	for i, c := range kind {
		if unicode.IsUpper(c) && i > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(c))
	}
	return types.EventType(b.String())
}

// published reports whether events on topic are switched on.
func (s *settings) published(topic string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return !s.eventsOff[eventTypeOfTopic(topic)]
}

// DescribeEventConfigurations returns which event types are published. The registry
// events start on, as the iot-dr stacks switch them on; UpdateEventConfigurations
// switches them off, after which their events are not published. The event types
// the registry does not model (jobs, certificates, policies, CA certificates) are
// always off.
func (r *Registry) DescribeEventConfigurations(ctx context.Context, in *iot.DescribeEventConfigurationsInput, _ ...func(*iot.Options)) (*iot.DescribeEventConfigurationsOutput, error) {
	return call(ctx, r, "DescribeEventConfigurations", in, func(*iot.DescribeEventConfigurationsInput) (*iot.DescribeEventConfigurationsOutput, error) {
		r.settings.mu.RLock()
		defer r.settings.mu.RUnlock()
		out := map[string]types.Configuration{}
		for _, t := range types.EventType("").Values() {
			out[string(t)] = types.Configuration{Enabled: slices.Contains(modelledEvents, t) && !r.settings.eventsOff[t]}
		}
		return &iot.DescribeEventConfigurationsOutput{EventConfigurations: out}, nil
	})
}

// UpdateEventConfigurations switches event types on or off. An unknown event type is
// an InvalidRequestException; switching on one the registry does not model is too,
// since it would never publish it.
func (r *Registry) UpdateEventConfigurations(ctx context.Context, in *iot.UpdateEventConfigurationsInput, _ ...func(*iot.Options)) (*iot.UpdateEventConfigurationsOutput, error) {
	return call(ctx, r, "UpdateEventConfigurations", in, func(in *iot.UpdateEventConfigurationsInput) (*iot.UpdateEventConfigurationsOutput, error) {
		for k, c := range in.EventConfigurations {
			t := types.EventType(k)
			if !slices.Contains(t.Values(), t) {
				return nil, invalid("eventConfigurations: %q is not an event type", k)
			}
			if c.Enabled && !slices.Contains(modelledEvents, t) {
				return nil, invalid("eventConfigurations: %s events are not modelled by the simulator", k)
			}
		}
		r.settings.mu.Lock()
		defer r.settings.mu.Unlock()
		for k, c := range in.EventConfigurations {
			r.settings.eventsOff[types.EventType(k)] = !c.Enabled
		}
		return &iot.UpdateEventConfigurationsOutput{}, nil
	})
}

// CreateDomainConfiguration creates an ENABLED domain configuration for a custom
// domain (DomainName and at least one server certificate ARN required; the service
// type defaults to DATA). A name already taken is a ResourceAlreadyExistsException.
func (r *Registry) CreateDomainConfiguration(ctx context.Context, in *iot.CreateDomainConfigurationInput, _ ...func(*iot.Options)) (*iot.CreateDomainConfigurationOutput, error) {
	return call(ctx, r, "CreateDomainConfiguration", in, func(in *iot.CreateDomainConfigurationInput) (*iot.CreateDomainConfigurationOutput, error) {
		name := aws.ToString(in.DomainConfigurationName)
		switch {
		case name == "":
			return nil, invalid("domainConfigurationName is required")
		case aws.ToString(in.DomainName) == "" || len(in.ServerCertificateArns) == 0:
			return nil, invalid("a custom domain configuration needs domainName and serverCertificateArns")
		}
		svc := in.ServiceType
		if svc == "" {
			svc = types.ServiceTypeData
		}
		r.settings.mu.Lock()
		defer r.settings.mu.Unlock()
		if _, ok := r.settings.domains[name]; ok {
			return nil, &types.ResourceAlreadyExistsException{Message: aws.String("domain configuration " + name + " already exists")}
		}
		// AWS appends an id to the name in the ARN (domainconfiguration/<name>/<id>).
		d := &domainConfiguration{name: name, domain: strings.ToLower(aws.ToString(in.DomainName)), arn: r.arn("domainconfiguration", name+"/"+newUUID()[:5]),
			status: types.DomainConfigurationStatusEnabled, service: svc, certs: slices.Clone(in.ServerCertificateArns), changed: r.now()}
		r.settings.domains[name] = d
		return &iot.CreateDomainConfigurationOutput{DomainConfigurationName: aws.String(name), DomainConfigurationArn: aws.String(d.arn)}, nil
	})
}

// DescribeDomainConfiguration describes a domain configuration; a missing one is a
// ResourceNotFoundException. Its server certificates are VALID.
func (r *Registry) DescribeDomainConfiguration(ctx context.Context, in *iot.DescribeDomainConfigurationInput, _ ...func(*iot.Options)) (*iot.DescribeDomainConfigurationOutput, error) {
	return call(ctx, r, "DescribeDomainConfiguration", in, func(in *iot.DescribeDomainConfigurationInput) (*iot.DescribeDomainConfigurationOutput, error) {
		name := aws.ToString(in.DomainConfigurationName)
		r.settings.mu.RLock()
		defer r.settings.mu.RUnlock()
		d, ok := r.settings.domains[name]
		if !ok {
			return nil, notFound("domain configuration %s does not exist", name)
		}
		var certs []types.ServerCertificateSummary
		for _, c := range d.certs {
			certs = append(certs, types.ServerCertificateSummary{ServerCertificateArn: aws.String(c), ServerCertificateStatus: types.ServerCertificateStatusValid})
		}
		return &iot.DescribeDomainConfigurationOutput{
			DomainConfigurationName: aws.String(d.name), DomainConfigurationArn: aws.String(d.arn), DomainName: aws.String(d.domain),
			DomainConfigurationStatus: d.status, DomainType: types.DomainTypeCustomerManaged, ServiceType: d.service,
			ServerCertificates: certs, LastStatusChangeDate: aws.Time(d.changed),
		}, nil
	})
}

// UpdateDomainConfiguration changes a domain configuration's status (ENABLED or
// DISABLED); other settings are accepted and ignored. A disabled configuration's
// domain is refused by the broker (DomainEnabled).
func (r *Registry) UpdateDomainConfiguration(ctx context.Context, in *iot.UpdateDomainConfigurationInput, _ ...func(*iot.Options)) (*iot.UpdateDomainConfigurationOutput, error) {
	return call(ctx, r, "UpdateDomainConfiguration", in, func(in *iot.UpdateDomainConfigurationInput) (*iot.UpdateDomainConfigurationOutput, error) {
		name := aws.ToString(in.DomainConfigurationName)
		st := in.DomainConfigurationStatus
		if st != "" && !slices.Contains(st.Values(), st) {
			return nil, invalid("domainConfigurationStatus: %q is not one of %v", st, st.Values())
		}
		r.settings.mu.Lock()
		defer r.settings.mu.Unlock()
		d, ok := r.settings.domains[name]
		if !ok {
			return nil, notFound("domain configuration %s does not exist", name)
		}
		if st != "" && st != d.status {
			d.status, d.changed = st, r.now()
		}
		return &iot.UpdateDomainConfigurationOutput{DomainConfigurationName: aws.String(d.name), DomainConfigurationArn: aws.String(d.arn)}, nil
	})
}

// DomainEnabled reports whether an ENABLED domain configuration serves domain, or no
// configuration names it at all (the Region's own endpoint names need none).
func (r *Registry) DomainEnabled(domain string) bool {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	r.settings.mu.RLock()
	defer r.settings.mu.RUnlock()
	named := false
	for _, d := range r.settings.domains {
		if d.domain == domain {
			if d.status == types.DomainConfigurationStatusEnabled {
				return true
			}
			named = true
		}
	}
	return !named
}
