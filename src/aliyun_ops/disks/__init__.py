"""Data disks: kept at the release, moved to the replacement, never left behind.

The replacement's image holds the system disk only. The original's data disks are set
``DeleteWithInstance=false`` at the notice (and by reconcile whenever it sees a managed instance), so the
release detaches them instead of deleting them; they are then attached to the replacement in the original
device order, in the same zone as they are, or copied through a snapshot into the replacement's zone.

``plan`` is pure: what each disk slot needs next. ``move`` does it against the cloud. An instance tagged
``aops:data=copy`` opts out: its data goes into a full image, as before.
"""
