#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// How the server asks glibc's allocator to keep memory it frees.
enum MemoryAllocator {
    /// The free memory an arena may keep at its top before glibc hands it back to the kernel.
    static let trimThreshold: Int32 = 16 << 20
    /// `M_TRIM_THRESHOLD` of <malloc.h>.
    private static let mTrimThreshold: Int32 = -1

    /// By default glibc gives back the top of an arena once 128 KB of it is free, which a busy
    /// server's arenas cross on nearly every request: `strace` counted one `madvise` per publish,
    /// and the pages it dropped fault back in on the next one. Keeping up to 16 MB per arena cut
    /// one subscriber's publish→receive p50 by 0.1–0.25 ms and `POST /api/messages` by about 10 %
    /// of its CPU (BENCHMARKS.md). Setting it also fixes glibc's mmap threshold at its default
    /// (128 KB) instead of letting it grow: the rare larger allocation is mapped and unmapped whole.
    /// An operator's own setting (`MALLOC_TRIM_THRESHOLD_`, or `GLIBC_TUNABLES`) wins.
    static func keepFreedMemory() {
        #if canImport(Glibc)
        let environment = ProcessInfo.processInfo.environment
        guard environment["MALLOC_TRIM_THRESHOLD_"] == nil, environment["GLIBC_TUNABLES"]?.contains("trim_threshold") != true,
            let symbol = dlsym(dlopen(nil, RTLD_NOW), "mallopt")
        else { return }
        // `mallopt` is declared in <malloc.h>, which Swift's Glibc module does not import.
        typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
        let mallopt = unsafeBitCast(symbol, to: MallOpt.self)
        _ = mallopt(mTrimThreshold, trimThreshold)
        #endif
    }
}
