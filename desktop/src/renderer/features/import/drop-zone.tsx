import { useState, type DragEvent } from 'react';
import { pathsOfDroppedFiles } from '../../lib/api-client';
import { plural } from '../../lib/format';
import { useImportStore } from '../../stores/import-store';

/**
 * Where studies come in: drop folders, ZIPs, DICOMDIR media, files or photos, or choose them with
 * the system dialog. The buttons make it work from the keyboard alone.
 */
export function DropZone({ disabled = false }: { disabled?: boolean }) {
  const [dragging, setDragging] = useState(false);
  const choose = useImportStore((s) => s.choose);
  const importPaths = useImportStore((s) => s.importPaths);
  const setNotice = useImportStore((s) => s.setNotice);

  const onDragOver = (event: DragEvent) => {
    event.preventDefault();
    event.dataTransfer.dropEffect = disabled ? 'none' : 'copy';
    if (!disabled) setDragging(true);
  };

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    if (disabled) return;
    const files = Array.from(event.dataTransfer.files);
    if (files.length === 0) return;
    const paths = pathsOfDroppedFiles(files);
    if (paths.length === 0) {
      setNotice('RelayPACS could not tell where the dropped items are on disk. Use Choose folder… or Choose files… instead.');
      return;
    }
    const missing = files.length - paths.length;
    setNotice(missing > 0 ? `${plural(missing, 'dropped item')} could not be located and ${missing === 1 ? 'was' : 'were'} left out.` : null);
    void importPaths(paths);
  };

  return (
    <section
      className={`drop-zone${dragging ? ' drop-zone-active' : ''}`}
      aria-labelledby="drop-zone-title"
      onDragOver={onDragOver}
      onDragEnter={onDragOver}
      onDragLeave={() => setDragging(false)}
      onDrop={onDrop}
    >
      <h2 id="drop-zone-title">Add studies</h2>
      <p>Drop folders, ZIP files, DICOMDIR media (CD/DVD/USB), DICOM files or JPEG/PNG photos here, or choose them.</p>
      <div className="actions">
        <button type="button" onClick={() => void choose('folder')} disabled={disabled}>
          Choose folder…
        </button>
        <button type="button" onClick={() => void choose('files')} disabled={disabled}>
          Choose files…
        </button>
      </div>
    </section>
  );
}
