package registry

import (
	"encoding/base64"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

const (
	defaultPageSize = 50
	maxPageSize     = 250
	tokenPrefix     = "iotsim1\x00"
)

// pageRequest is one list call's paging input, decoded.
type pageRequest struct {
	cursor    string // resume strictly after this key (before it when desc)
	hasCursor bool
	limit     int
	desc      bool
}

// parsePage validates a NextToken/Marker and MaxResults/PageSize. Tokens are
// bound to the operation so that one API's token is rejected by another.
func parsePage(op string, token *string, size *int32, desc bool) (pageRequest, error) {
	p := pageRequest{limit: defaultPageSize, desc: desc}
	if size != nil {
		if *size < 1 || *size > maxPageSize {
			return p, invalid("The page size must be between 1 and %d, got %d", maxPageSize, *size)
		}
		p.limit = int(*size)
	}
	if token == nil || *token == "" {
		return p, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(*token)
	prefix := tokenPrefix + op + "\x00"
	if err != nil || !strings.HasPrefix(string(raw), prefix) {
		return p, invalid("The pagination token %q is invalid", excerpt(*token))
	}
	p.cursor, p.hasCursor = strings.TrimPrefix(string(raw), prefix), true
	return p, nil
}

func encodeToken(op, cursor string) *string {
	return aws.String(base64.RawURLEncoding.EncodeToString([]byte(tokenPrefix + op + "\x00" + cursor)))
}

// page selects the next page from keys (sorted ascending) of the keys that
// keep accepts (nil keeps all). It returns the page and the token for the next
// one, nil when no further key matches.
func (p pageRequest) page(op string, keys []string, keep func(string) bool) ([]string, *string) {
	var out []string
	i, step := 0, 1
	if p.desc {
		i, step = len(keys)-1, -1
		if p.hasCursor {
			i = sort.SearchStrings(keys, p.cursor) - 1
		}
	} else if p.hasCursor {
		i = sort.Search(len(keys), func(j int) bool { return keys[j] > p.cursor })
	}
	for ; i >= 0 && i < len(keys); i += step {
		if keep != nil && !keep(keys[i]) {
			continue
		}
		if len(out) == p.limit {
			return out, encodeToken(op, out[len(out)-1])
		}
		out = append(out, keys[i])
	}
	return out, nil
}

// listPage serves a List call op that pages through names held by one resource:
// it checks the required input member (field) that names the resource, parses the
// page request, then, under the read lock, asks names for the resource's sorted
// names (or its not-found error) and returns one page of them.
func (r *Registry) listPage(op, field string, key, token *string, size *int32, names func(key string) ([]string, error)) ([]string, *string, error) {
	if key == nil {
		return nil, nil, required(op+"Input", field)
	}
	p, err := parsePage(op, token, size, false)
	if err != nil {
		return nil, nil, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	keys, err := names(*key)
	if err != nil {
		return nil, nil, err
	}
	page, next := p.page(op, keys, nil)
	return page, next, nil
}

// thingNames returns a listPage lookup of the names of holds yields for a thing.
func (r *Registry) thingNames(holds func(*thing) []string) func(string) ([]string, error) {
	return func(name string) ([]string, error) {
		t := r.things[name]
		if t == nil {
			return nil, r.thingNotFound(name)
		}
		return holds(t), nil
	}
}

// certNames returns a listPage lookup of the names holds yields for a certificate,
// given by ARN.
func (r *Registry) certNames(holds func(*certificate) []string) func(string) ([]string, error) {
	return func(arn string) ([]string, error) {
		c, err := r.certByARN(arn)
		if err != nil {
			return nil, err
		}
		return holds(c), nil
	}
}

// excerpt shortens untrusted input quoted in error messages.
func excerpt(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
