//! Build script shared by every function crate: links the Lambda binary as a non-PIE
//! executable on Linux.
//!
//! A position-independent executable makes the dynamic loader relocate every pointer in the
//! binary's tables at start (≈ 22,000–32,000 relocations here, over 370–540 KB of RELRO data,
//! each page a copy-on-write fault). Linked non-PIE, the linker resolves them once and the
//! start does none of that: measured with `scripts/bench`, ≈ 0.2–0.3 ms less per cold start
//! (about 0.15× of the hello-world baseline). The dependencies stay compiled as PIC (some, like
//! `crc-fast`, also build a `cdylib`, which `-C relocation-model=static` would break); only the
//! final link changes. The price is that the executable image is always mapped at the same
//! address (heap, stack and shared libraries stay randomised). See docs/benchmarks.md.
//!
//! Both linkers used here accept the flag: the system `cc` (tests, `scripts/bench`) and
//! cargo-lambda's `zig cc` (`sam build`, x86_64 and arm64).

pub fn main() {
    println!("cargo:rerun-if-changed=../build-no-pie.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
