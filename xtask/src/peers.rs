//! Not written yet.

pub fn run(_a: &[String]) -> crate::util::Result<()> {
    Err(crate::util::Failure::new("not implemented yet"))
}
