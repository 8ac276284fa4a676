package service

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
)

// CPUProfileDirEnv names the variable that makes a service profile its own CPU: set to a
// directory, the service writes <directory>/<name>.pprof, a CPU profile of its whole run, when it
// stops. The services have no profiling endpoint; this is how "gradebook bench -cpuprofile-dir"
// sees where a running system's CPU goes.
const CPUProfileDirEnv = "GRADEBOOK_CPU_PROFILE_DIR"

// StartCPUProfile starts profiling this process's CPU into dir/name.pprof; stop ends the profile
// and closes the file.
func StartCPUProfile(dir, name string) (stop func(), err error) {
	f, err := os.Create(filepath.Join(dir, name+".pprof"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", CPUProfileDirEnv, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", CPUProfileDirEnv, err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}
