namespace AiFactory.Host.Hardware.Vfio;

/// <summary>The answer of <c>VFIO_GROUP_GET_STATUS</c> on <c>/dev/vfio/N</c>, or why it could not be asked.</summary>
/// <param name="Group">The group number.</param>
/// <param name="Viable">VFIO_GROUP_FLAGS_VIABLE: every member is on a vfio driver or has none; a VM can use it.</param>
/// <param name="ContainerSet">VFIO_GROUP_FLAGS_CONTAINER_SET: someone (a VM) holds it now.</param>
/// <param name="Error">Why the status could not be read (ENOENT: no /dev/vfio/N; EBUSY: opened elsewhere); null when read.</param>
public sealed record VfioGroupStatus(int Group, bool Viable, bool ContainerSet, string? Error);
