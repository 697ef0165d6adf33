/* vfiocheck GROUP [BDF]: asks the kernel whether /dev/vfio/GROUP is viable (VFIO_GROUP_GET_STATUS), then, when
 * viable, attaches it to a container with the type1v2 IOMMU and (with BDF) opens the device, as a VM start does.
 * Prints "group N viable=0|1 attach=ok|EPERM..."; exit 0 when viable and attached. Built static for the guest. */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: vfiocheck GROUP [BDF]\n"); return 2; }
    char path[64];
    snprintf(path, sizeof path, "/dev/vfio/%s", argv[1]);
    int container = open("/dev/vfio/vfio", O_RDWR);
    if (container < 0) { printf("group %s open /dev/vfio/vfio: %s\n", argv[1], strerror(errno)); return 1; }
    if (ioctl(container, VFIO_GET_API_VERSION) != VFIO_API_VERSION || !ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU)) {
        printf("group %s: no VFIO type1v2\n", argv[1]); return 1;
    }
    int group = open(path, O_RDWR);
    if (group < 0) { printf("group %s open %s: %s\n", argv[1], path, strerror(errno)); return 1; }
    struct vfio_group_status status = { .argsz = sizeof status };
    if (ioctl(group, VFIO_GROUP_GET_STATUS, &status) < 0) { printf("group %s GET_STATUS: %s\n", argv[1], strerror(errno)); return 1; }
    int viable = (status.flags & VFIO_GROUP_FLAGS_VIABLE) != 0;
    if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0) {
        printf("group %s viable=%d attach=%s\n", argv[1], viable, errno == EPERM ? "EPERM" : strerror(errno)); return 1;
    }
    if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0) { printf("group %s viable=%d set_iommu: %s\n", argv[1], viable, strerror(errno)); return 1; }
    if (argc > 2) {
        int dev = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, argv[2]);
        if (dev < 0) { printf("group %s viable=%d attach=ok device %s: %s\n", argv[1], viable, argv[2], strerror(errno)); return 1; }
        close(dev);
    }
    printf("group %s viable=%d attach=ok\n", argv[1], viable);
    return viable ? 0 : 1;
}
