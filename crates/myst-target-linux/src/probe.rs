//! What this host supports (`myst target-info`).

/// Host capabilities relevant to myst's targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSupport {
    /// `PR_SET_SYSCALL_USER_DISPATCH` in classic (exclusive) mode.
    pub sud: bool,
    /// `PR_SYS_DISPATCH_INCLUSIVE_ON` (dispatch only syscalls issued from a range).
    pub sud_inclusive: bool,
    /// User-space `rdfsbase`/`wrfsbase` (HWCAP2 bit 1).
    pub fsgsbase: bool,
    /// `/dev/kvm` opens read-write.
    pub kvm: bool,
    /// `/dev/sgx_enclave` exists.
    pub sgx: bool,
    /// Host kernel release.
    pub kernel: String,
}

fn sud_mode_works(mode: libc::c_ulong) -> bool {
    // Probe on a throw-away thread: SUD state is per thread and must not stay armed here.
    std::thread::spawn(move || {
        let sel: u8 = 0;
        // SAFETY: prctl with valid arguments; the selector outlives the armed period, and we
        // disarm before returning. The range [0x1000, 0x2000) holds no code we execute.
        unsafe {
            let r = libc::prctl(59, mode, 0x1000 as libc::c_ulong, 0x1000 as libc::c_ulong, &sel as *const u8);
            if r == 0 {
                libc::prctl(59, 0, 0, 0, 0);
            }
            r == 0
        }
    })
    .join()
    .unwrap_or(false)
}

/// Probes the host.
pub fn probe() -> HostSupport {
    // SAFETY: getauxval has no preconditions.
    let hwcap2 = unsafe { libc::getauxval(libc::AT_HWCAP2) };
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
    HostSupport {
        sud: sud_mode_works(1),
        sud_inclusive: sud_mode_works(2),
        fsgsbase: hwcap2 & 2 != 0,
        kvm: std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm").is_ok(),
        sgx: std::path::Path::new("/dev/sgx_enclave").exists(),
        kernel,
    }
}
