import { useVirtualizer } from '@tanstack/react-virtual';
import { useRef } from 'react';
import type { JobAction, QueueItem } from '../../../common/ipc-contract';
import { QueueItemRow } from './queue-item-row';

interface QueueListProps {
  items: QueueItem[];
  pending: readonly string[];
  onAct(action: JobAction, jobId: number): void;
}

/**
 * The queue can hold thousands of studies (a night of watched-folder work), so only the rows in
 * view are in the DOM. Rows measure themselves: a failure explanation makes a row taller.
 */
export function QueueList({ items, pending, onAct }: QueueListProps) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: items.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => 150,
    overscan: 6,
    getItemKey: (index) => items[index]?.jobId ?? index,
  });
  const rows = virtualizer.getVirtualItems();
  return (
    <div className="queue-scroll" ref={scrollRef}>
      <div className="queue-list" role="list" aria-label="Studies in the queue" style={{ height: `${virtualizer.getTotalSize()}px` }}>
        {rows.map((row) => {
          const item = items[row.index];
          if (!item) return null;
          return (
            <div
              key={row.key}
              role="listitem"
              aria-setsize={items.length}
              aria-posinset={row.index + 1}
              className="queue-row"
              data-index={row.index}
              ref={virtualizer.measureElement}
              style={{ transform: `translateY(${row.start}px)` }}
            >
              <QueueItemRow item={item} pending={pending} onAct={onAct} />
            </div>
          );
        })}
      </div>
    </div>
  );
}
