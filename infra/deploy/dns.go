package deploy

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/acm"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iot"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// Domain is this Region's IoT domain configuration for the device-facing custom domain,
// with its ACM server certificate.
type Domain struct {
	pulumi.ResourceState

	Configuration *iot.DomainConfiguration
	// CertificateArn is the ACM certificate the configuration serves.
	CertificateArn pulumi.StringOutput
	// ValidationRecord is the FQDN of the ACM validation CNAME, if this stack wrote it.
	ValidationRecord pulumi.StringOutput
}

// domainArgs are what the domain needs from the rest of the stack.
type domainArgs struct {
	// SharedValidationRecord is the FQDN of the validation CNAME another stack (the
	// primary) owns; nil means this stack writes it.
	SharedValidationRecord pulumi.StringInput
}

// newDomain serves s.Domain from this Region's IoT endpoint. Without
// iotdr:certificateArn it requests an ACM certificate validated through DNS in the
// hosted zone. ACM gives every certificate for the same name in one account the same
// validation record, so one stack owns it: the primary, when it requests a
// certificate, and the secondary validates through it (args.SharedValidationRecord);
// otherwise the secondary writes it. Two owners would mean destroying or replacing
// either deletes the record the other Region's certificate renews through.
func newDomain(ctx *pulumi.Context, s *settings, args domainArgs, opts ...pulumi.ResourceOption) (*Domain, error) {
	d := &Domain{}
	if err := ctx.RegisterComponentResource("iotdr:dns:Domain", "domain", d, opts...); err != nil {
		return nil, err
	}
	child := pulumi.Parent(d)
	if s.CertificateARN != "" {
		d.CertificateArn = pulumi.String(s.CertificateARN).ToStringOutput()
	} else {
		cert, err := acm.NewCertificate(ctx, "domain", &acm.CertificateArgs{
			DomainName:       pulumi.String(s.Domain),
			ValidationMethod: pulumi.String("DNS"),
			Tags:             pulumi.StringMap{"Name": pulumi.String(s.Prefix + "-" + s.Domain)},
		}, child)
		if err != nil {
			return nil, fmt.Errorf("domain certificate: %w", err)
		}
		opt := cert.DomainValidationOptions.Index(pulumi.Int(0))
		fqdn := args.SharedValidationRecord
		if fqdn == nil {
			// Written over a record left by an earlier deployment (the same name and
			// value); deleted before a replacement is created, since both would be
			// the one record and the replacement's create would precede the delete.
			rec, err := route53.NewRecord(ctx, "domain-validation", &route53.RecordArgs{
				ZoneId:         pulumi.String(s.HostedZoneID),
				Name:           opt.ResourceRecordName().Elem(),
				Type:           opt.ResourceRecordType().Elem(),
				Records:        pulumi.StringArray{opt.ResourceRecordValue().Elem()},
				Ttl:            pulumi.Int(300),
				AllowOverwrite: pulumi.Bool(true),
			}, child, pulumi.DeleteBeforeReplace(true))
			if err != nil {
				return nil, fmt.Errorf("domain certificate validation record: %w", err)
			}
			d.ValidationRecord, fqdn = rec.Fqdn, rec.Fqdn
		} else {
			// The shared record must be the one this certificate asks for.
			fqdn = pulumi.All(fqdn, opt.ResourceRecordName().Elem()).ApplyT(func(v []any) (string, error) {
				shared, want := v[0].(string), v[1].(string)
				if strings.TrimSuffix(shared, ".") != strings.TrimSuffix(want, ".") {
					return "", fmt.Errorf("the primary stack's ACM validation record %s is not the one this certificate needs (%s): run `pulumi up` on the primary stack", shared, want)
				}
				return shared, nil
			}).(pulumi.StringOutput)
		}
		valid, err := acm.NewCertificateValidation(ctx, "domain", &acm.CertificateValidationArgs{
			CertificateArn:        cert.Arn,
			ValidationRecordFqdns: pulumi.StringArray{fqdn},
		}, child)
		if err != nil {
			return nil, fmt.Errorf("domain certificate validation: %w", err)
		}
		d.CertificateArn = valid.CertificateArn
	}
	cfg, err := iot.NewDomainConfiguration(ctx, "domain", &iot.DomainConfigurationArgs{
		Name:                  pulumi.String(spec.DomainConfigurationName(s.Prefix)),
		DomainName:            pulumi.String(s.Domain),
		ServiceType:           pulumi.String("DATA"),
		ServerCertificateArns: pulumi.StringArray{d.CertificateArn},
		Status:                pulumi.String("ENABLED"),
	}, child)
	if err != nil {
		return nil, fmt.Errorf("domain configuration: %w", err)
	}
	d.Configuration = cfg
	if err := ctx.RegisterResourceOutputs(d, pulumi.Map{"name": cfg.Name}); err != nil {
		return nil, err
	}
	return d, nil
}

// failoverTarget is one side of the failover pair.
type failoverTarget struct {
	Endpoint      pulumi.StringInput // that Region's iot:Data-ATS endpoint
	HealthCheckID pulumi.StringInput
}

// Failover is the pair of Route 53 failover records devices resolve s.Domain through.
type Failover struct {
	pulumi.ResourceState

	Primary, Secondary *route53.Record
}

// newFailover answers s.Domain with the primary's endpoint while the primary's health
// check passes, else with the secondary's. Devices keep the same name and certificate;
// the TTL bounds how long a resolver holds on to a stale answer.
func newFailover(ctx *pulumi.Context, s *settings, primary, secondary failoverTarget, opts ...pulumi.ResourceOption) (*Failover, error) {
	f := &Failover{}
	if err := ctx.RegisterComponentResource("iotdr:dns:Failover", "failover", f, opts...); err != nil {
		return nil, err
	}
	record := func(kind string, t failoverTarget) (*route53.Record, error) {
		r, err := route53.NewRecord(ctx, "failover-"+kindName(kind), &route53.RecordArgs{
			ZoneId:        pulumi.String(s.HostedZoneID),
			Name:          pulumi.String(s.Domain),
			Type:          pulumi.String("CNAME"),
			Ttl:           pulumi.Int(s.RecordTTL),
			Records:       pulumi.StringArray{t.Endpoint},
			SetIdentifier: pulumi.String(s.Prefix + "-" + kindName(kind)),
			HealthCheckId: t.HealthCheckID,
			FailoverRoutingPolicies: route53.RecordFailoverRoutingPolicyArray{
				&route53.RecordFailoverRoutingPolicyArgs{Type: pulumi.String(kind)},
			},
		}, pulumi.Parent(f))
		if err != nil {
			return nil, fmt.Errorf("%s failover record: %w", kind, err)
		}
		return r, nil
	}
	var err error
	if f.Primary, err = record(spec.FailoverPrimary, primary); err != nil {
		return nil, err
	}
	if f.Secondary, err = record(spec.FailoverSecondary, secondary); err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(f, pulumi.Map{"name": f.Primary.Fqdn}); err != nil {
		return nil, err
	}
	return f, nil
}

// kindName is the stack role behind a failover record kind.
func kindName(kind string) string {
	if kind == spec.FailoverPrimary {
		return spec.RolePrimary
	}
	return spec.RoleSecondary
}
