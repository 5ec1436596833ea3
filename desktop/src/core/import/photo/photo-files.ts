import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { CatalogDatabase } from '../../catalog/catalog-database.js';
import { SECONDARY_CAPTURE_IMAGE_STORAGE } from './secondary-capture-dataset.js';

/**
 * The folder of the Secondary Capture files made from attached photos. It sits in the app's data
 * folder, not its temp area: the catalog points at these files until the study is sent. Each file
 * is named by the SHA-256 of the photo it came from, so a photo imported again is recognised as
 * attached already, whatever its name or folder (cameras name every card IMG_0001.JPG again).
 */
export class AttachedPhotoFiles {
  constructor(
    private readonly db: CatalogDatabase,
    readonly dir: string,
  ) {}

  /** A new file name for a Secondary Capture made from the photo with this hash; the folder exists after. */
  async newPath(photoSha256: string): Promise<string> {
    // Owner only, as the data folder: these files hold patient data.
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    return join(this.dir, `${photoSha256}-${randomUUID()}.dcm`);
  }

  /** A catalogued Secondary Capture file made from the photo with this hash that is still on disk, if any. */
  attachedCopy(photoSha256: string): string | undefined {
    const prefix = join(this.dir, `${photoSha256}-`);
    // instr() = 1 is an exact prefix test: LIKE would read % and _ in a folder name as wildcards.
    const rows = this.db.prepare('SELECT path FROM instances WHERE sop_class_uid = ? AND instr(path, ?) = 1 ORDER BY id')
      .all(SECONDARY_CAPTURE_IMAGE_STORAGE, prefix) as { path: string }[];
    return rows.find((row) => existsSync(row.path))?.path;
  }
}
