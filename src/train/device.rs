//! Choosing the device to train on.

use candle_core::Device;

use super::{TrainError, TrainResult};

/// `--device auto|cpu|cuda`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// CUDA when this build has it and a GPU is present, else the CPU.
    #[default]
    Auto,
    Cpu,
    Cuda,
}

impl DeviceChoice {
    pub fn from_name(name: &str) -> Option<DeviceChoice> {
        match name {
            "auto" => Some(DeviceChoice::Auto),
            "cpu" => Some(DeviceChoice::Cpu),
            "cuda" => Some(DeviceChoice::Cuda),
            _ => None,
        }
    }

    /// The device, and a note when `auto` fell back to the CPU. Without the `cuda`
    /// feature, `cuda` is an error and `auto` is the CPU.
    #[cfg(not(feature = "cuda"))]
    pub fn resolve(self) -> TrainResult<(Device, Option<&'static str>)> {
        match self {
            DeviceChoice::Cpu => Ok((Device::Cpu, None)),
            DeviceChoice::Auto => Ok((Device::Cpu, Some("training on the CPU (this build has no CUDA support)"))),
            DeviceChoice::Cuda => Err(TrainError::NoCuda),
        }
    }

    /// The device, and a note when `auto` fell back to the CPU (no usable GPU).
    #[cfg(feature = "cuda")]
    pub fn resolve(self) -> TrainResult<(Device, Option<&'static str>)> {
        match self {
            DeviceChoice::Cpu => Ok((Device::Cpu, None)),
            DeviceChoice::Auto => match Device::new_cuda(0) {
                Ok(device) => Ok((device, None)),
                Err(_) => Ok((Device::Cpu, Some("no usable CUDA GPU found: training on the CPU"))),
            },
            DeviceChoice::Cuda => Device::new_cuda(0).map(|d| (d, None)).map_err(|_| TrainError::NoCuda),
        }
    }
}
