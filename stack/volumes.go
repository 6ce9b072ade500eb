package stack

import (
	"errors"
	"fmt"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/mount"
)

// convertVolumes turns a service's volumes into swarm mounts, as docker does.
func convertVolumes(vols []types.ServiceVolumeConfig, defs types.Volumes, namespace string) ([]mount.Mount, error) {
	mounts := make([]mount.Mount, 0, len(vols))
	for _, v := range vols {
		m, err := convertVolume(v, defs, namespace)
		if err != nil {
			return nil, fmt.Errorf("volumes.%s: %w", v.Target, err)
		}
		mounts = append(mounts, m)
	}
	return mounts, nil
}

// incompatible names the option blocks a mount of type t must not carry.
func incompatible(v types.ServiceVolumeConfig, t string) error {
	blocks := []struct {
		name string
		set  bool
	}{
		{"volume", v.Volume != nil}, {"bind", v.Bind != nil}, {"tmpfs", v.Tmpfs != nil}, {"image", v.Image != nil},
	}
	for _, b := range blocks {
		if b.set && b.name != t && !(t == "npipe" && b.name == "bind") {
			return fmt.Errorf("%s options are incompatible with type %s", b.name, t)
		}
	}
	return nil
}

func convertVolume(v types.ServiceVolumeConfig, defs types.Volumes, namespace string) (mount.Mount, error) {
	t := v.Type
	if t == "" {
		t = types.VolumeTypeVolume
	}
	if err := incompatible(v, t); err != nil {
		return mount.Mount{}, err
	}
	m := mount.Mount{
		Type:        mount.Type(t),
		Target:      v.Target,
		ReadOnly:    v.ReadOnly,
		Source:      v.Source,
		Consistency: mount.Consistency(v.Consistency),
	}
	switch t {
	case types.VolumeTypeVolume:
		if v.Source == "" {
			return m, nil // anonymous volume
		}
		def, ok := defs[v.Source]
		if !ok {
			return mount.Mount{}, fmt.Errorf("undefined volume %q", v.Source)
		}
		m.Source = scope(namespace, v.Source)
		if def.Name != "" {
			m.Source = def.Name
		}
		m.VolumeOptions = &mount.VolumeOptions{}
		if v.Volume != nil {
			m.VolumeOptions.NoCopy = v.Volume.NoCopy
			m.VolumeOptions.Subpath = v.Volume.Subpath
		}
		if def.External {
			return m, nil
		}
		m.VolumeOptions.Labels = withStackLabel(namespace, def.Labels)
		if def.Driver != "" || def.DriverOpts != nil {
			m.VolumeOptions.DriverConfig = &mount.Driver{Name: def.Driver, Options: def.DriverOpts}
		}
	case types.VolumeTypeBind, "npipe":
		if v.Source == "" {
			return mount.Mount{}, fmt.Errorf("invalid %s source, source cannot be empty", t)
		}
		if v.Bind != nil && v.Bind.Propagation != "" {
			m.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(v.Bind.Propagation)}
		}
	case types.VolumeTypeTmpfs:
		if v.Source != "" {
			return mount.Mount{}, errors.New("invalid tmpfs source, source must be empty")
		}
		if v.Tmpfs != nil {
			m.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: int64(v.Tmpfs.Size)}
		}
	case types.VolumeTypeImage:
		if v.Source == "" {
			return mount.Mount{}, errors.New("invalid image source, source cannot be empty")
		}
		if v.Image != nil {
			m.ImageOptions = &mount.ImageOptions{Subpath: v.Image.SubPath}
		}
	case "cluster":
		m.ClusterOptions = &mount.ClusterOptions{}
		if !strings.HasPrefix(v.Source, "group:") {
			def, ok := defs[v.Source]
			if !ok {
				return mount.Mount{}, fmt.Errorf("undefined volume %q", v.Source)
			}
			m.Source = scope(namespace, v.Source)
			if def.Name != "" {
				m.Source = def.Name
			}
		}
	default:
		return mount.Mount{}, errors.New("volume type must be volume, bind, tmpfs, npipe, image or cluster")
	}
	return m, nil
}
