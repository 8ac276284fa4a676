package netx

// FilesReserved is how many open files CapToFileLimit keeps for what a service opens besides its
// listeners' connections: its data files, log file, and its own dials to the registry and its
// dependencies.
const FilesReserved = 256

// CapToFileLimit lowers want so that want connections, plus FilesReserved, fit under the
// process's open-file limit: a listener refusing connections it cannot hold is better than the
// kernel refusing the service's own files and dials. It answers want when the limit is unknown
// or large enough, and whether it lowered it.
func CapToFileLimit(want int) (int, bool) {
	limit, ok := FileLimit()
	if !ok || limit >= uint64(want)+FilesReserved {
		return want, false
	}
	if limit <= 2*FilesReserved {
		return max(int(limit/2), 1), true
	}
	return int(limit - FilesReserved), true
}
