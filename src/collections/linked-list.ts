// A list that runs through its items (their prev/next fields), for sets
// that gain and lose one member per call and are only walked by a sweep:
// open reservations, calls in flight, bodies still arriving. A Map's or
// Set's add and delete per call left its table to be rebuilt every few dozen
// calls (deleted entries fill it) and allocated an entry each time; here an
// add or a delete touches two items and allocates nothing. An item is in at
// most one list at a time.

/** The fields a LinkedList keeps on its items (a class declares them, so every instance keeps one shape). */
export interface Linked<T> {
  prev?: T | undefined;
  next?: T | undefined;
  listed?: boolean;
}

export class LinkedList<T extends Linked<T>> {
  first: T | undefined = undefined;
  #last: T | undefined = undefined;
  size = 0;

  /** Appends `item` unless it is listed already. */
  push(item: T): void {
    if (item.listed) return;
    item.listed = true;
    item.prev = this.#last;
    item.next = undefined;
    if (this.#last) this.#last.next = item;
    else this.first = item;
    this.#last = item;
    this.size++;
  }

  /** Unlinks `item`; false if it was not listed. A sweep may remove the item it stands on (read its `next` first). */
  remove(item: T): boolean {
    if (!item.listed) return false;
    item.listed = false;
    if (item.prev) item.prev.next = item.next;
    else this.first = item.next;
    if (item.next) item.next.prev = item.prev;
    else this.#last = item.prev;
    item.prev = item.next = undefined;
    this.size--;
    return true;
  }
}
