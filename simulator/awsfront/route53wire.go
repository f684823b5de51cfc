package awsfront

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
)

const route53Namespace = "https://route53.amazonaws.com/doc/2013-04-01/"

// route53Operations are the Route 53 calls served over HTTP (the ones Route53
// implements), with their REST-XML bindings as the SDK serialises them.
var route53Operations = []wireOperation{
	{Name: "GetHealthCheck", Method: "GET", Path: "/2013-04-01/healthcheck/{HealthCheckId}", Labels: []wireBinding{{"HealthCheckId", "HealthCheckId"}}},
	{Name: "GetHealthCheckStatus", Method: "GET", Path: "/2013-04-01/healthcheck/{HealthCheckId}/status", Labels: []wireBinding{{"HealthCheckId", "HealthCheckId"}}},
	{Name: "ListHostedZonesByName", Method: "GET", Path: "/2013-04-01/hostedzonesbyname",
		Query: []wireBinding{{"dnsname", "DNSName"}, {"hostedzoneid", "HostedZoneId"}, {"maxitems", "MaxItems"}}},
	{Name: "ListResourceRecordSets", Method: "GET", Path: "/2013-04-01/hostedzone/{HostedZoneId}/rrset", Labels: []wireBinding{{"HostedZoneId", "HostedZoneId"}},
		Query: []wireBinding{{"maxitems", "MaxItems"}, {"identifier", "StartRecordIdentifier"}, {"name", "StartRecordName"}, {"type", "StartRecordType"}}},
	{Name: "TestDNSAnswer", Method: "GET", Path: "/2013-04-01/testdnsanswer",
		Query: []wireBinding{{"hostedzoneid", "HostedZoneId"}, {"recordname", "RecordName"}, {"recordtype", "RecordType"}, {"resolverip", "ResolverIP"},
			{"edns0clientsubnetip", "EDNS0ClientSubnetIP"}, {"edns0clientsubnetmask", "EDNS0ClientSubnetMask"}}},
}

// route53ListMembers names the elements of Route 53's XML lists, by list.
var route53ListMembers = map[string]string{
	"HealthCheckObservations": "HealthCheckObservation",
	"HostedZones":             "HostedZone",
	"ResourceRecordSets":      "ResourceRecordSet",
	"ResourceRecords":         "ResourceRecord",
	"RecordData":              "RecordDataEntry",
	"ChildHealthChecks":       "ChildHealthCheck",
	"Regions":                 "Region",
}

var route53Router = newRouter(route53Operations)

// serveRoute53 answers Route 53's REST-XML protocol through the Front's Route53.
func (h *handler) serveRoute53(w http.ResponseWriter, r *http.Request, _ []byte) string {
	if h.route53 == nil {
		writeXMLError(w, newAPIError(http.StatusBadRequest, "UnknownOperationException", "Route 53 is not served by this endpoint"))
		return ""
	}
	op, labels, allowed, err := route53Router.match(r.Method, r.URL.EscapedPath())
	switch {
	case err != nil:
		writeXMLError(w, newAPIError(http.StatusBadRequest, "InvalidInput", "%v", err))
		return ""
	case op == nil && allowed != nil:
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeXMLError(w, newAPIError(http.StatusMethodNotAllowed, "MethodNotAllowedException", "%s %s: the simulator serves this path with %s", r.Method, r.URL.Path, strings.Join(allowed, ", ")))
		return ""
	case op == nil:
		writeXMLError(w, newAPIError(http.StatusNotFound, "UnknownOperationException",
			"no Route 53 operation the simulator serves matches %s %s (it serves GetHealthCheck, GetHealthCheckStatus, ListHostedZonesByName, ListResourceRecordSets and TestDNSAnswer)", r.Method, r.URL.Path))
		return ""
	}
	m, _ := reflect.TypeFor[*Route53]().MethodByName(op.Name)
	in, err := decodeInput(m.Type.In(2).Elem(), op, labels, r.URL.Query(), r.Header, nil)
	if err != nil {
		writeXMLError(w, route53Error(fromError(err)))
		return op.Name
	}
	res := m.Func.Call([]reflect.Value{reflect.ValueOf(h.route53), reflect.ValueOf(r.Context()), in})
	if e, _ := res[1].Interface().(error); e != nil {
		writeXMLError(w, fromError(e))
		return op.Name
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	out := res[0].Elem()
	root := xml.StartElement{Name: xml.Name{Local: op.Name + "Response"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: route53Namespace}}}
	if err := encodeXMLFields(enc, root, out); err != nil || enc.Flush() != nil {
		writeXMLError(w, newAPIError(http.StatusInternalServerError, "InternalFailure", "encoding the answer: %v", err))
		return op.Name
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
	return op.Name
}

// route53Error renames the endpoint's own input errors to Route 53's code.
func route53Error(e *apiError) *apiError {
	if e.code == "InvalidRequestException" {
		e.code = "InvalidInput"
	}
	return e
}

// encodeXMLFields writes a structure's exported members (the SDK's metadata left out)
// as child elements of start, in REST-XML: element names are the member names, lists
// wrap one element per entry, timestamps are ISO 8601.
func encodeXMLFields(enc *xml.Encoder, start xml.StartElement, v reflect.Value) error {
	if err := enc.EncodeToken(start); err != nil {
		return err
	}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Name == "ResultMetadata" {
			continue
		}
		if err := encodeXML(enc, f.Name, v.Field(i)); err != nil {
			return err
		}
	}
	return enc.EncodeToken(start.End())
}

func encodeXML(enc *xml.Encoder, name string, v reflect.Value) error {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	start := xml.StartElement{Name: xml.Name{Local: name}}
	text := func(s string) error { return enc.EncodeElement(s, start) }
	switch {
	case v.Type() == timeType:
		return text(v.Interface().(time.Time).UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	switch v.Kind() {
	case reflect.Struct:
		return encodeXMLFields(enc, start, v)
	case reflect.Slice:
		if v.IsNil() {
			return nil
		}
		member := route53ListMembers[name]
		if member == "" {
			member = "member"
		}
		if err := enc.EncodeToken(start); err != nil {
			return err
		}
		for i := range v.Len() {
			if err := encodeXML(enc, member, v.Index(i)); err != nil {
				return err
			}
		}
		return enc.EncodeToken(start.End())
	case reflect.String:
		if v.Len() == 0 {
			return nil
		}
		return text(v.String())
	case reflect.Bool:
		return text(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int32, reflect.Int64:
		return text(strconv.FormatInt(v.Int(), 10))
	case reflect.Float64, reflect.Float32:
		return text(strconv.FormatFloat(v.Float(), 'f', -1, 64))
	}
	return nil
}

// writeXMLError answers in REST-XML's error shape.
func writeXMLError(w http.ResponseWriter, e *apiError) {
	type xmlError struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	typ := "Sender"
	if e.status >= 500 {
		typ = "Receiver"
	}
	b, _ := xml.Marshal(struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Xmlns     string   `xml:"xmlns,attr"`
		Error     xmlError `xml:"Error"`
		RequestID string   `xml:"RequestId"`
	}{Xmlns: route53Namespace, Error: xmlError{Type: typ, Code: e.code, Message: e.msg}, RequestID: w.Header().Get("X-Amzn-Requestid")})
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.status)
	_, _ = w.Write(append([]byte(xml.Header), b...))
}
