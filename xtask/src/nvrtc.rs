//! NVRTC opened with `dlopen` at run time, so xtask builds with no CUDA and no dependencies.
//!
//! Only the handful of entry points needed to compile a source to PTX and read the log.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::path::Path;

const RTLD_NOW: c_int = 2;
const RTLD_GLOBAL: c_int = 0x100;

unsafe extern "C" {
    fn dlopen(filename: *const c_char, flag: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    fn dlerror() -> *mut c_char;
}

type Prog = *mut c_void;
type Status = c_int;

type VersionFn = unsafe extern "C" fn(*mut c_int, *mut c_int) -> Status;
type CreateFn = unsafe extern "C" fn(
    *mut Prog,
    *const c_char,
    *const c_char,
    c_int,
    *const *const c_char,
    *const *const c_char,
) -> Status;
type CompileFn = unsafe extern "C" fn(Prog, c_int, *const *const c_char) -> Status;
type SizeFn = unsafe extern "C" fn(Prog, *mut usize) -> Status;
type GetFn = unsafe extern "C" fn(Prog, *mut c_char) -> Status;
type DestroyFn = unsafe extern "C" fn(*mut Prog) -> Status;
type ErrorStringFn = unsafe extern "C" fn(Status) -> *const c_char;

/// A loaded NVRTC library.
pub struct Nvrtc {
    version: VersionFn,
    create: CreateFn,
    compile: CompileFn,
    log_size: SizeFn,
    log: GetFn,
    ptx_size: SizeFn,
    ptx: GetFn,
    destroy: DestroyFn,
    error_string: ErrorStringFn,
}

/// What one compilation produced.
pub struct Compiled {
    /// `Ok(ptx)` or `Err(status message)`.
    pub ptx: Result<String, String>,
    /// NVRTC's log (warnings, or the errors when compilation failed).
    pub log: String,
}

fn last_dl_error() -> String {
    // SAFETY: dlerror returns null or a valid C string owned by libc.
    unsafe {
        let e = dlerror();
        if e.is_null() {
            "unknown dlopen error".into()
        } else {
            CStr::from_ptr(e).to_string_lossy().into_owned()
        }
    }
}

/// dlopen by name (searched as the loader does) or by path.
fn open(name: &str, global: bool) -> Result<*mut c_void, String> {
    let c = CString::new(name).map_err(|_| "library name with a NUL byte".to_string())?;
    let flags = RTLD_NOW | if global { RTLD_GLOBAL } else { 0 };
    // SAFETY: dlopen with a valid C string; the handle is never closed (lives for the process).
    let h = unsafe { dlopen(c.as_ptr(), flags) };
    if h.is_null() {
        Err(last_dl_error())
    } else {
        Ok(h)
    }
}

macro_rules! sym {
    ($h:expr, $name:literal, $ty:ty) => {{
        let c = CString::new($name).expect("symbol name");
        // SAFETY: dlsym on a live handle; the symbol is transmuted to the signature NVRTC
        // documents for it.
        let p = unsafe { dlsym($h, c.as_ptr()) };
        if p.is_null() {
            return Err(format!("symbol {} missing: {}", $name, last_dl_error()));
        }
        unsafe { std::mem::transmute::<*mut c_void, $ty>(p) }
    }};
}

impl Nvrtc {
    /// Opens `lib` (a file name such as `libnvrtc.so.13`, or a path). When `lib` is a path, the
    /// `libnvrtc-builtins.so.*` beside it is loaded first with `RTLD_GLOBAL`, so NVRTC finds it
    /// by soname without `LD_LIBRARY_PATH`.
    pub fn open(lib: &str) -> Result<Nvrtc, String> {
        let path = Path::new(lib);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(entries) = std::fs::read_dir(dir)
        {
            let mut builtins: Vec<_> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    n.starts_with("libnvrtc-builtins.so")
                })
                .collect();
            builtins.sort();
            for b in builtins {
                let _ = open(&b.to_string_lossy(), true);
            }
        }
        let h = open(lib, false)?;
        Ok(Nvrtc {
            version: sym!(h, "nvrtcVersion", VersionFn),
            create: sym!(h, "nvrtcCreateProgram", CreateFn),
            compile: sym!(h, "nvrtcCompileProgram", CompileFn),
            log_size: sym!(h, "nvrtcGetProgramLogSize", SizeFn),
            log: sym!(h, "nvrtcGetProgramLog", GetFn),
            ptx_size: sym!(h, "nvrtcGetPTXSize", SizeFn),
            ptx: sym!(h, "nvrtcGetPTX", GetFn),
            destroy: sym!(h, "nvrtcDestroyProgram", DestroyFn),
            error_string: sym!(h, "nvrtcGetErrorString", ErrorStringFn),
        })
    }

    /// NVRTC's (major, minor) version.
    pub fn version(&self) -> (i32, i32) {
        let (mut a, mut b) = (0, 0);
        // SAFETY: two valid out-pointers.
        unsafe { (self.version)(&mut a, &mut b) };
        (a, b)
    }

    fn status_text(&self, s: Status) -> String {
        // SAFETY: nvrtcGetErrorString returns a static C string.
        let p = unsafe { (self.error_string)(s) };
        if p.is_null() {
            format!("NVRTC status {s}")
        } else {
            unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
        }
    }

    /// Compiles `src` (named `name` in messages) with `options`, e.g. `--gpu-architecture=compute_90`.
    pub fn compile(&self, src: &str, name: &str, options: &[&str]) -> Result<Compiled, String> {
        let src = CString::new(src).map_err(|_| "source contains a NUL byte".to_string())?;
        let name = CString::new(name).map_err(|_| "name contains a NUL byte".to_string())?;
        let opts: Vec<CString> = options
            .iter()
            .map(|o| CString::new(*o).map_err(|_| "option with a NUL byte".to_string()))
            .collect::<Result<_, _>>()?;
        let opt_ptrs: Vec<*const c_char> = opts.iter().map(|o| o.as_ptr()).collect();
        let mut prog: Prog = std::ptr::null_mut();
        // SAFETY: valid C strings; no headers; prog is destroyed below.
        let s = unsafe {
            (self.create)(
                &mut prog,
                src.as_ptr(),
                name.as_ptr(),
                0,
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        if s != 0 {
            return Err(format!("nvrtcCreateProgram: {}", self.status_text(s)));
        }
        // SAFETY: prog is a live program; option pointers outlive the call.
        let status = unsafe { (self.compile)(prog, opt_ptrs.len() as c_int, opt_ptrs.as_ptr()) };
        let log = self.read(prog, self.log_size, self.log);
        let ptx = if status == 0 {
            Ok(self.read(prog, self.ptx_size, self.ptx))
        } else {
            Err(self.status_text(status))
        };
        // SAFETY: destroys the program created above, once.
        unsafe { (self.destroy)(&mut prog) };
        Ok(Compiled { ptx, log })
    }

    fn read(&self, prog: Prog, size: SizeFn, get: GetFn) -> String {
        let mut n = 0usize;
        // SAFETY: prog is live; the buffer has the size NVRTC reported (including the NUL).
        unsafe {
            if size(prog, &mut n) != 0 || n == 0 {
                return String::new();
            }
            let mut buf = vec![0u8; n];
            if get(prog, buf.as_mut_ptr() as *mut c_char) != 0 {
                return String::new();
            }
            let end = buf.iter().position(|&b| b == 0).unwrap_or(n);
            String::from_utf8_lossy(&buf[..end]).into_owned()
        }
    }
}
