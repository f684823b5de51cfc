package simulator

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator/pki"
	"github.com/iot-dr/iot-dr/simulator/registry"
)

// Device describes a device to provision: its thing, and what the thing carries.
type Device struct {
	Thing      string
	ThingType  string
	Attributes map[string]string
	// Groups are static thing groups to add the thing to; they must exist.
	Groups []string
	// ExtraPolicies are attached to the certificate besides the device policy; they must
	// exist.
	ExtraPolicies []string
	// Cert is the device's certificate; nil issues a new one from the CA.
	Cert *pki.Device
}

// Provision provisions d in reg the way a fleet provisioning flow does: create the
// thing, register a certificate issued by ca with ca (ACTIVE, DEFAULT mode), attach the device policy (created
// on first use) and any extra policies, attach the certificate to the thing, add the
// thing to its groups. The Region publishes the thing event at CreateThing, before the
// attachments, exactly as AWS does.
func Provision(ctx context.Context, reg *registry.Registry, ca *pki.CA, region, account string, d Device) (*pki.Device, error) {
	if err := EnsureDevicePolicy(ctx, reg, region, account); err != nil {
		return nil, err
	}
	in := &iot.CreateThingInput{ThingName: aws.String(d.Thing)}
	if d.ThingType != "" {
		in.ThingTypeName = aws.String(d.ThingType)
	}
	if len(d.Attributes) > 0 {
		in.AttributePayload = &iottypes.AttributePayload{Attributes: d.Attributes}
	}
	if _, err := reg.CreateThing(ctx, in); err != nil {
		return nil, fmt.Errorf("provision %s: %w", d.Thing, err)
	}
	dev := d.Cert
	if dev == nil {
		var err error
		if dev, err = ca.IssueDevice(d.Thing); err != nil {
			return nil, fmt.Errorf("provision %s: issue certificate: %w", d.Thing, err)
		}
	}
	// Registered with its CA, the certificate is in DEFAULT mode: it needs no SNI here,
	// unlike the SNI_ONLY copy replication registers without a CA in the other Region.
	cert, err := reg.RegisterCertificate(ctx, &iot.RegisterCertificateInput{
		CertificatePem: aws.String(string(dev.CertPEM)), CaCertificatePem: aws.String(string(ca.CertPEM())),
		Status: iottypes.CertificateStatusActive,
	})
	if err != nil {
		return nil, fmt.Errorf("provision %s: register certificate: %w", d.Thing, err)
	}
	for _, p := range append([]string{spec.DevicePolicyName}, d.ExtraPolicies...) {
		if _, err := reg.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(p), Target: cert.CertificateArn}); err != nil {
			return nil, fmt.Errorf("provision %s: attach policy %s: %w", d.Thing, p, err)
		}
	}
	if _, err := reg.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(d.Thing), Principal: cert.CertificateArn}); err != nil {
		return nil, fmt.Errorf("provision %s: attach certificate: %w", d.Thing, err)
	}
	for _, g := range d.Groups {
		if _, err := reg.AddThingToThingGroup(ctx, &iot.AddThingToThingGroupInput{ThingName: aws.String(d.Thing), ThingGroupName: aws.String(g)}); err != nil {
			return nil, fmt.Errorf("provision %s: add to group %s: %w", d.Thing, g, err)
		}
	}
	return dev, nil
}

// EnsureDevicePolicy creates the spec's device policy in reg unless it exists.
func EnsureDevicePolicy(ctx context.Context, reg *registry.Registry, region, account string) error {
	if _, ok := reg.PolicyDocument(spec.DevicePolicyName); ok {
		return nil
	}
	doc, err := spec.DevicePolicy(region, account)
	if err != nil {
		return err
	}
	_, err = reg.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String(spec.DevicePolicyName), PolicyDocument: aws.String(doc)})
	var exists *iottypes.ResourceAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("create device policy in %s: %w", region, err)
	}
	return nil
}

// ProvisionDevice provisions d in the World's primary Region with a certificate from
// the World's CA.
func (w *World) ProvisionDevice(ctx context.Context, d Device) (*pki.Device, error) {
	return Provision(ctx, w.Primary.Registry, w.CA, w.Primary.Name, w.opts.AccountID, d)
}
