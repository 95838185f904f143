import { newRequestId } from '../proxy/request-id.js';

// A monitoring reservation lives in the reservation book of the shard that
// authorized it; its id names that shard, so /events and /release can be
// handed to it whichever shard their connection landed on.
//
//   rsv_<shard>_<26-char time-ordered random id>

const FORMAT = /^rsv_(\d{1,3})_([0-9A-HJKMNP-TV-Z]{26})$/;

export function newReservationId(shard: number, now: number): string {
  return `rsv_${shard}_${newRequestId(now).slice(4)}`;
}

/** The owning shard, or undefined when the id is not one Tollgate issues. */
export function reservationShard(id: string): number | undefined {
  const m = FORMAT.exec(id);
  return m ? Number(m[1]) : undefined;
}
