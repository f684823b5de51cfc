package simulator

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator/pki"
)

// JITPTemplate is a just-in-time provisioning template as AWS's example has it: the
// thing named by the certificate's common name with its country as an attribute, the
// certificate activated, the device policy attached.
const JITPTemplate = `{"Parameters":{"AWS::IoT::Certificate::CommonName":{"Type":"String"},"AWS::IoT::Certificate::Country":{"Type":"String"},` +
	`"AWS::IoT::Certificate::Id":{"Type":"String"}},"Resources":{` +
	`"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Ref":"AWS::IoT::Certificate::CommonName"},` +
	`"AttributePayload":{"onboarded":"by-jitp","country":{"Ref":"AWS::IoT::Certificate::Country"}}}},` +
	`"certificate":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateId":{"Ref":"AWS::IoT::Certificate::Id"},"Status":"ACTIVE"}},` +
	`"policy":{"Type":"AWS::IoT::Policy","Properties":{"PolicyName":"` + spec.DevicePolicyName + `"}}}}`

// SetUpJITP sets up just-in-time provisioning in r as an operator does: the JITP
// template JITPTemplate named template, run with the provisioning role roleARN, and
// ca registered in DEFAULT mode (verified with the Region's registration code), ACTIVE,
// with auto-registration on and a registration config naming the template. It returns
// the CA certificate's id. Neither raises a registry event: the capture sweep carries
// them to the other Region.
func SetUpJITP(ctx context.Context, r *Region, ca *pki.CA, template, roleARN string) (string, error) {
	if _, err := r.Registry.CreateProvisioningTemplate(ctx, &iot.CreateProvisioningTemplateInput{TemplateName: aws.String(template),
		TemplateBody: aws.String(JITPTemplate), ProvisioningRoleArn: aws.String(roleARN), Type: types.TemplateTypeJitp}); err != nil {
		return "", fmt.Errorf("simulator: JITP template in %s: %w", r.Name, err)
	}
	return RegisterCA(ctx, r, ca, &types.RegistrationConfig{TemplateName: aws.String(template)})
}

// RegisterCA registers ca in r in DEFAULT mode (verified with the Region's
// registration code), ACTIVE, with auto-registration on and the registration config
// cfg (nil: none, which is just-in-time registration), and returns its id.
func RegisterCA(ctx context.Context, r *Region, ca *pki.CA, cfg *types.RegistrationConfig) (string, error) {
	code, err := r.Registry.GetRegistrationCode(ctx, &iot.GetRegistrationCodeInput{})
	if err != nil {
		return "", fmt.Errorf("simulator: registration code of %s: %w", r.Name, err)
	}
	verification, err := ca.IssueDevice(aws.ToString(code.RegistrationCode))
	if err != nil {
		return "", err
	}
	if _, err := r.Registry.RegisterCACertificate(ctx, &iot.RegisterCACertificateInput{
		CaCertificate: aws.String(string(ca.CertPEM())), VerificationCertificate: aws.String(string(verification.CertPEM)),
		SetAsActive: true, AllowAutoRegistration: true, RegistrationConfig: cfg,
	}); err != nil {
		return "", fmt.Errorf("simulator: CA certificate in %s: %w", r.Name, err)
	}
	return pki.Fingerprint(ca.Cert().Raw), nil
}
