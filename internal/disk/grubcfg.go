package disk

import (
	"fmt"
	"strings"

	"github.com/mkimage/mkimage/updater/slots"
)

// grubConfig is the one grub.cfg of an A/B disk, read by GRUB under BIOS
// and UEFI alike. It boots the committed slot, or once the armed trial
// slot: it clears "trial" and records "tried" with save_env and reads the
// block back before booting it, so a panic, hang, reset or power cut in the
// trial boots the committed slot next. A slot that does not load falls
// back to the committed one, then to the other. The kernel gets
// mkimage.slot and mkimage.boot (committed, trial, fallback, lastresort).
// The slots are partitions of the disk GRUB was loaded from ($root's disk).
// A slot's cmdline.cfg may set rootmap, a dm-mod.create argument naming
// ${slot_partuuid}: its kernel then maps the root from the partition and
// gets no initrd (MapRoot).
func grubConfig(cmdline string, partA, partB int) string {
	r := strings.NewReplacer("@ARGS@", cmdline, "@PART_A@", fmt.Sprintf("gpt%d", partA), "@PART_B@", fmt.Sprintf("gpt%d", partB))
	return r.Replace(grubCfgTemplate)
}

const grubCfgTemplate = `# Written by mkimage: A/B system slots with a one-shot trial boot.
if [ "${grub_platform}" = pc ]; then
  # Under a BIOS, GRUB writes to the screen: the serial console too.
  serial --unit=0 --speed=115200
  terminal_output --append serial
fi
set timeout=0
set envfile="${prefix}/grubenv"
set committed=a
set trial=
set tried=
load_env --file "${envfile}" committed trial tried
if [ "${committed}" != b ]; then set committed=a; fi
set slot="${committed}"
set mode=committed
if [ "${trial}" = a -o "${trial}" = b ]; then
  set next="${trial}"
  set tried="${trial}"
  set trial=
  if save_env --file "${envfile}" trial tried; then
    set trial=unknown
    load_env --file "${envfile}" trial
    if [ -z "${trial}" ]; then
      set slot="${next}"
      set mode=trial
    else
      echo "mkimage: grubenv still says trial=${trial} after save_env: not trying slot ${next}"
    fi
  else
    echo "mkimage: save_env failed: not trying slot ${next}"
  fi
fi
regexp --set=1:disk '^([^,]+),' "${root}"
set part_a=@PART_A@
set part_b=@PART_B@
function boot_slot {
  set args="@ARGS@"
  set rootmap=
  set slot_partuuid=
  probe --set=slot_partuuid --part-uuid "(${disk},$2)"
  if [ -f "(${disk},$2)/cmdline.cfg" ]; then source "(${disk},$2)/cmdline.cfg"; fi
  echo "mkimage: booting slot $1 ($3) from (${disk},$2)"
  if [ -n "${rootmap}" ]; then
    # The kernel maps its root from this partition: no initrd. rootmap
    # holds spaces; GRUB passes it to the kernel in double quotes.
    if linux "(${disk},$2)/vmlinuz" ${args} "${rootmap}" mkimage.slot=$1 mkimage.boot=$3; then
      boot
    fi
  elif linux "(${disk},$2)/vmlinuz" ${args} mkimage.slot=$1 mkimage.boot=$3; then
    if initrd "(${disk},$2)/initrd.zst"; then
      boot
    fi
  fi
  echo "mkimage: slot $1 did not load"
}
if [ "${slot}" = b ]; then boot_slot b "${part_b}" "${mode}"; else boot_slot a "${part_a}" "${mode}"; fi
if [ "${mode}" = trial ]; then
  if [ "${committed}" = b ]; then boot_slot b "${part_b}" fallback; else boot_slot a "${part_a}" fallback; fi
fi
if [ "${committed}" = b ]; then boot_slot a "${part_a}" lastresort; else boot_slot b "${part_b}" lastresort; fi
echo "mkimage: no slot could be loaded; rebooting"
sleep 5
reboot
`

// initialEnv is the disk's first grubenv: slot a committed, no trial.
func initialEnv() ([]byte, error) {
	var e slots.Env
	e.Set("committed", "a")
	e.Set("trial", "")
	e.Set("tried", "")
	return e.Format()
}
