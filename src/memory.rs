//! What a call needs in memory, checked against the machine's before anything is allocated.

use crate::error::{Error, Need};

/// Refuses outputs of `configs * steps` values of `item_size` bytes each (two of them: lr
/// and momentum), and the values of `params` float parameters per configuration when there
/// are several, beyond `machine` bytes of memory. Where the kernel overcommits, such an
/// allocation could succeed and the fill would then exhaust the memory. `item_size` is 0
/// when the caller's own arrays are filled (a memory map may be larger than memory).
///
/// # Errors
/// [`Error::BeyondMemory`].
pub fn check_fits(
    configs: u128,
    steps: u128,
    item_size: usize,
    params: usize,
    machine: Option<u64>,
) -> Result<(), Error> {
    let Some(machine) = machine else {
        return Ok(());
    };
    let values = configs.saturating_mul(steps);
    let outputs = values.saturating_mul(2 * item_size as u128);
    let columns = if configs > 1 {
        configs.saturating_mul(8 * params as u128)
    } else {
        0
    };
    let total = outputs.saturating_add(columns);
    if total <= u128::from(machine) {
        return Ok(());
    }
    let need = if outputs > u128::from(machine) {
        Need::Outputs {
            values,
            bytes: values.saturating_mul(item_size as u128),
        }
    } else {
        Need::Configurations {
            configs,
            bytes: columns,
        }
    };
    Err(Error::BeyondMemory {
        need,
        total,
        machine,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_then_configurations_are_named() {
        assert!(check_fits(1, 1000, 8, 6, Some(16_000)).is_ok());
        assert!(check_fits(1, 1 << 60, 8, 6, None).is_ok());
        let err = check_fits(1, 1000, 8, 6, Some(10_000)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("lr needs 1000 values (7.8 KiB)"),
            "{err}"
        );
        assert!(err.is_memory());
        let err = check_fits(1 << 40, 0, 8, 6, Some(1 << 30)).unwrap_err();
        let want = format!("broadcast parameters make {} configurations", 1u64 << 40);
        assert!(err.to_string().contains(&want), "{err}");
        // The caller's arrays are not counted.
        assert!(check_fits(1, 1000, 0, 6, Some(10)).is_ok());
    }
}
