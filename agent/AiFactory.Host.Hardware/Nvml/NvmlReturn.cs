namespace AiFactory.Host.Hardware.Nvml;

/// <summary>
/// nvmlReturn_t. Typed until it reaches the <see cref="INvml"/> boundary, and printable without the library loaded
/// (<see cref="NvmlReturnExtensions.Describe"/>), unlike nvmlErrorString.
/// </summary>
public enum NvmlReturn
{
    Success = 0,
    Uninitialized = 1,
    InvalidArgument = 2,
    NotSupported = 3,
    NoPermission = 4,
    AlreadyInitialized = 5,
    NotFound = 6,
    InsufficientSize = 7,
    InsufficientPower = 8,
    DriverNotLoaded = 9,
    Timeout = 10,
    IrqIssue = 11,
    LibraryNotFound = 12,
    FunctionNotFound = 13,
    CorruptedInforom = 14,
    GpuIsLost = 15,
    ResetRequired = 16,
    OperatingSystem = 17,
    LibRmVersionMismatch = 18,
    InUse = 19,
    Memory = 20,
    NoData = 21,
    VgpuEccNotSupported = 22,
    InsufficientResources = 23,
    FreqNotSupported = 24,
    ArgumentVersionMismatch = 25,
    Deprecated = 26,
    NotReady = 27,
    GpuNotFound = 28,
    InvalidState = 29,
    ResetTypeNotSupported = 30,
    Unknown = 999,
}

/// <summary>Names and texts of <see cref="NvmlReturn"/> that need no library.</summary>
public static class NvmlReturnExtensions
{
    /// <summary>The C name, e.g. <c>NVML_ERROR_IN_USE</c>.</summary>
    public static string CName(this NvmlReturn value) => value switch
    {
        NvmlReturn.Success => "NVML_SUCCESS",
        NvmlReturn.Uninitialized => "NVML_ERROR_UNINITIALIZED",
        NvmlReturn.InvalidArgument => "NVML_ERROR_INVALID_ARGUMENT",
        NvmlReturn.NotSupported => "NVML_ERROR_NOT_SUPPORTED",
        NvmlReturn.NoPermission => "NVML_ERROR_NO_PERMISSION",
        NvmlReturn.AlreadyInitialized => "NVML_ERROR_ALREADY_INITIALIZED",
        NvmlReturn.NotFound => "NVML_ERROR_NOT_FOUND",
        NvmlReturn.InsufficientSize => "NVML_ERROR_INSUFFICIENT_SIZE",
        NvmlReturn.InsufficientPower => "NVML_ERROR_INSUFFICIENT_POWER",
        NvmlReturn.DriverNotLoaded => "NVML_ERROR_DRIVER_NOT_LOADED",
        NvmlReturn.Timeout => "NVML_ERROR_TIMEOUT",
        NvmlReturn.IrqIssue => "NVML_ERROR_IRQ_ISSUE",
        NvmlReturn.LibraryNotFound => "NVML_ERROR_LIBRARY_NOT_FOUND",
        NvmlReturn.FunctionNotFound => "NVML_ERROR_FUNCTION_NOT_FOUND",
        NvmlReturn.CorruptedInforom => "NVML_ERROR_CORRUPTED_INFOROM",
        NvmlReturn.GpuIsLost => "NVML_ERROR_GPU_IS_LOST",
        NvmlReturn.ResetRequired => "NVML_ERROR_RESET_REQUIRED",
        NvmlReturn.OperatingSystem => "NVML_ERROR_OPERATING_SYSTEM",
        NvmlReturn.LibRmVersionMismatch => "NVML_ERROR_LIB_RM_VERSION_MISMATCH",
        NvmlReturn.InUse => "NVML_ERROR_IN_USE",
        NvmlReturn.Memory => "NVML_ERROR_MEMORY",
        NvmlReturn.NoData => "NVML_ERROR_NO_DATA",
        NvmlReturn.VgpuEccNotSupported => "NVML_ERROR_VGPU_ECC_NOT_SUPPORTED",
        NvmlReturn.InsufficientResources => "NVML_ERROR_INSUFFICIENT_RESOURCES",
        NvmlReturn.FreqNotSupported => "NVML_ERROR_FREQ_NOT_SUPPORTED",
        NvmlReturn.ArgumentVersionMismatch => "NVML_ERROR_ARGUMENT_VERSION_MISMATCH",
        NvmlReturn.Deprecated => "NVML_ERROR_DEPRECATED",
        NvmlReturn.NotReady => "NVML_ERROR_NOT_READY",
        NvmlReturn.GpuNotFound => "NVML_ERROR_GPU_NOT_FOUND",
        NvmlReturn.InvalidState => "NVML_ERROR_INVALID_STATE",
        NvmlReturn.ResetTypeNotSupported => "NVML_ERROR_RESET_TYPE_NOT_SUPPORTED",
        NvmlReturn.Unknown => "NVML_ERROR_UNKNOWN",
        _ => $"NVML_ERROR_{(int)value}",
    };

    /// <summary>The C name and what it means, e.g. <c>NVML_ERROR_IN_USE (the GPU is in use)</c>.</summary>
    public static string Describe(this NvmlReturn value) => value switch
    {
        NvmlReturn.Success => "NVML_SUCCESS",
        NvmlReturn.NotSupported => "NVML_ERROR_NOT_SUPPORTED (not available on this device)",
        NvmlReturn.NoPermission => "NVML_ERROR_NO_PERMISSION (needs root)",
        NvmlReturn.GpuIsLost => "NVML_ERROR_GPU_IS_LOST (the GPU fell off the bus or is inaccessible)",
        NvmlReturn.ResetRequired => "NVML_ERROR_RESET_REQUIRED (the GPU needs a reset)",
        NvmlReturn.InUse => "NVML_ERROR_IN_USE (the GPU is in use)",
        NvmlReturn.InsufficientResources => "NVML_ERROR_INSUFFICIENT_RESOURCES (the slots are taken)",
        NvmlReturn.InvalidState => "NVML_ERROR_INVALID_STATE (wrong state for this operation)",
        NvmlReturn.LibraryNotFound => "NVML_ERROR_LIBRARY_NOT_FOUND (libnvidia-ml could not be loaded)",
        NvmlReturn.FunctionNotFound => "NVML_ERROR_FUNCTION_NOT_FOUND (the driver's NVML is too old)",
        _ => value.CName(),
    };
}
