package cluster

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
)

// Specs are compared as the swarm stores them: through their JSON form, with
// empty values (null, "", 0, false, [], {}) dropped, so that a nil slice and
// an empty one, or a default the daemon fills in as zero, are the same.

func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return nil
	}
	return prune(out)
}

func prune(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if p := prune(val); p == nil {
				delete(x, k)
			} else {
				x[k] = p
			}
		}
		if len(x) == 0 {
			return nil
		}
		return x
	case []any:
		out := x[:0]
		for _, val := range x {
			p := prune(val)
			if p == nil {
				p = map[string]any{} // keep positions in lists
			}
			out = append(out, p)
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case string:
		if x == "" {
			return nil
		}
	case float64:
		if x == 0 {
			return nil
		}
	case bool:
		if !x {
			return nil
		}
	case nil:
		return nil
	}
	return v
}

// SpecEqual reports whether two specs are the same once normalised.
func SpecEqual(a, b any) bool {
	return reflect.DeepEqual(normalize(a), normalize(b))
}

// SpecDiff lists the fields that differ between two specs, as dotted paths
// no deeper than depth (TaskTemplate.ContainerSpec.Env).
func SpecDiff(a, b any, depth int) []string {
	var out []string
	diff(normalize(a), normalize(b), nil, depth, &out)
	slices.Sort(out)
	return out
}

func diff(a, b any, path []string, depth int, out *[]string) {
	if reflect.DeepEqual(a, b) {
		return
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if !aok || !bok || len(path) >= depth {
		*out = append(*out, strings.Join(path, "."))
		return
	}
	keys := map[string]bool{}
	for k := range am {
		keys[k] = true
	}
	for k := range bm {
		keys[k] = true
	}
	for k := range keys {
		diff(am[k], bm[k], append(slices.Clone(path), k), depth, out)
	}
}
