package sandbox

import (
	"archive/tar"
	"os"
	"path/filepath"
	"sync"
)

// testAppTar returns a root filesystem tarball holding only /app, the static
// test program: `docker import` makes it an image without any base image.
func (sb *Sandbox) testAppTar() (string, error) {
	sb.tarOnce.Do(func() {
		path := filepath.Join(sb.Dir, "testapp.tar")
		sb.tarPath, sb.tarErr = path, writeRootfs(path, sb.TestAppBinary)
	})
	return sb.tarPath, sb.tarErr
}

func writeRootfs(path, binary string) error {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	err = tw.WriteHeader(&tar.Header{Name: "app", Mode: 0o755, Size: int64(len(bin)), Typeflag: tar.TypeReg})
	if err == nil {
		_, err = tw.Write(bin)
	}
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// tarState is embedded in Sandbox for testAppTar.
type tarState struct {
	tarOnce sync.Once
	tarPath string
	tarErr  error
}
