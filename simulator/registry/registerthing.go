package registry

import (
	"context"
	"encoding/json"
	"maps"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// templateResource is one resource of a provisioning template body.
type templateResource struct {
	Type       string
	Properties map[string]json.RawMessage
}

// templateValue resolves a property: a literal string or {"Ref": parameter}. Other
// intrinsic functions (Fn::Join, Fn::If, ...) are not modelled.
func templateValue(raw json.RawMessage, params map[string]string) (string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var ref struct{ Ref *string }
	if json.Unmarshal(raw, &ref) == nil && ref.Ref != nil {
		v, ok := params[*ref.Ref]
		if !ok {
			return "", invalid("The template refers to parameter %q, which was not given", excerpt(*ref.Ref))
		}
		return v, nil
	}
	return "", invalid("The template value %s is not a string or a Ref (other intrinsic functions are not modelled)", excerpt(string(raw)))
}

// RegisterThing provisions a thing from a template body, as the fleet provisioning
// and JITP flows do: each AWS::IoT::Thing (ThingName, ThingTypeName, AttributePayload),
// AWS::IoT::Certificate (CertificateId of a registered certificate, Status) and
// AWS::IoT::Policy (PolicyName of an existing policy) resource, the certificate
// attached to the thing and the policy to the certificate. As in AWS it makes the
// control-plane calls the template implies (CreateThing, UpdateCertificate,
// AttachPolicy, AttachThingPrincipal), which count against their own rates and raise
// their own events. A parameter the template declares with a Default takes it when
// not given. Property values are literal strings or {"Ref": parameter}; other
// intrinsic functions, thing groups, inline policy documents and
// OverrideSettings are not modelled (InvalidRequestException).
func (r *Registry) RegisterThing(ctx context.Context, in *iot.RegisterThingInput, _ ...func(*iot.Options)) (*iot.RegisterThingOutput, error) {
	return call(ctx, r, "RegisterThing", in, func(in *iot.RegisterThingInput) (*iot.RegisterThingOutput, error) {
		if in.TemplateBody == nil {
			return nil, required("RegisterThingInput", "TemplateBody")
		}
		if err := validTemplateBody(*in.TemplateBody); err != nil {
			return nil, err
		}
		var doc struct {
			Parameters map[string]struct{ Default json.RawMessage }
			Resources  map[string]templateResource
		}
		if err := json.Unmarshal([]byte(*in.TemplateBody), &doc); err != nil {
			return nil, invalid("The template body does not parse: %v", err)
		}
		// A declared parameter not given takes its Default.
		params := maps.Clone(in.Parameters)
		if params == nil {
			params = map[string]string{}
		}
		for name, p := range doc.Parameters {
			if _, given := params[name]; given || p.Default == nil {
				continue
			}
			var s string
			if json.Unmarshal(p.Default, &s) != nil {
				s = string(p.Default) // a number or boolean default, as its JSON text
			}
			params[name] = s
		}
		var thing, certID, certStatus, policy string
		var thingType string
		attrs := map[string]string{}
		arns := map[string]string{}
		names := map[string]string{}
		for name, res := range doc.Resources {
			get := func(prop string) (string, error) {
				raw, ok := res.Properties[prop]
				if !ok {
					return "", nil
				}
				return templateValue(raw, params)
			}
			var err error
			switch res.Type {
			case "AWS::IoT::Thing":
				names["thing"] = name
				if thing, err = get("ThingName"); err == nil {
					thingType, err = get("ThingTypeName")
				}
				if raw, ok := res.Properties["AttributePayload"]; ok && err == nil {
					var payload map[string]json.RawMessage
					if err = json.Unmarshal(raw, &payload); err == nil {
						for k, v := range payload {
							if attrs[k], err = templateValue(v, params); err != nil {
								break
							}
						}
					}
				}
			case "AWS::IoT::Certificate":
				names["certificate"] = name
				if certID, err = get("CertificateId"); err == nil {
					certStatus, err = get("Status")
				}
			case "AWS::IoT::Policy":
				names["policy"] = name
				if _, inline := res.Properties["PolicyDocument"]; inline {
					err = invalid("Inline policy documents in templates are not modelled; name an existing policy")
				} else {
					policy, err = get("PolicyName")
				}
			default:
				err = invalid("Template resource type %q is not AWS::IoT::Thing, AWS::IoT::Certificate or AWS::IoT::Policy", excerpt(res.Type))
			}
			if err != nil {
				return nil, err
			}
		}
		if thing == "" {
			return nil, invalid("The template provisions no thing (an AWS::IoT::Thing with a ThingName)")
		}
		// The calls the template implies, each an API call of its own.
		ct := &iot.CreateThingInput{ThingName: aws.String(thing), AttributePayload: &types.AttributePayload{Attributes: attrs}}
		if thingType != "" {
			ct.ThingTypeName = aws.String(thingType)
		}
		t, err := r.CreateThing(ctx, ct)
		if err != nil {
			return nil, err
		}
		arns[names["thing"]] = aws.ToString(t.ThingArn)
		out := &iot.RegisterThingOutput{ResourceArns: arns}
		if certID == "" {
			return out, nil
		}
		d, err := r.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(certID)})
		if err != nil {
			return nil, err
		}
		certARN := aws.ToString(d.CertificateDescription.CertificateArn)
		arns[names["certificate"]] = certARN
		out.CertificatePem = d.CertificateDescription.CertificatePem
		if certStatus != "" && certStatus != string(d.CertificateDescription.Status) {
			if _, err := r.UpdateCertificate(ctx, &iot.UpdateCertificateInput{CertificateId: aws.String(certID), NewStatus: types.CertificateStatus(certStatus)}); err != nil {
				return nil, err
			}
		}
		if policy != "" {
			if _, err := r.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(policy), Target: aws.String(certARN)}); err != nil {
				return nil, err
			}
			arns[names["policy"]] = r.arn("policy", policy)
		}
		if _, err := r.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(thing), Principal: aws.String(certARN)}); err != nil {
			return nil, err
		}
		return out, nil
	})
}
