import { useEffect } from 'react';
import { ScreenHeading } from '../../components/screen-heading';
import { useSettingsStore } from '../../stores/settings-store';
import { useWatchStore } from '../../stores/watch-store';
import { AddFolderForm } from './add-folder-form';
import { WatchedFolderList } from './watched-folder-list';
import { ScreenNotices } from '../../components/notices';

/** Folders RelayPACS sends from by itself, with their live status. */
export function WatchScreen() {
  const { folders, loaded, busy, error, message, load, add, remove, chooseFolder } = useWatchStore();
  const allLocked = useSettingsStore((s) => s.view?.locked.watchedFolders === true);
  const settingsLoaded = useSettingsStore((s) => s.loaded);

  useEffect(() => {
    void load();
  }, [load]);
  // Whether IT policy fixes the list comes with the settings.
  useEffect(() => {
    if (!settingsLoaded) void useSettingsStore.getState().load();
  }, [settingsLoaded]);

  return (
    <div className="screen watch-screen">
      <ScreenHeading>Watched folders</ScreenHeading>
      <p className="lead">New studies in these folders are sent by themselves once they have stopped changing for a while.</p>
      <ScreenNotices message={message} error={error} />
      <section className="panel" aria-labelledby="watched-list-title">
        <h2 id="watched-list-title">Folders</h2>
        {loaded ? <WatchedFolderList folders={folders} allLocked={allLocked} busy={busy} onRemove={(path) => void remove(path)} /> : <p role="status">Loading…</p>}
      </section>
      <section className="panel">
        <AddFolderForm locked={allLocked} busy={busy} onAdd={add} onChooseFolder={chooseFolder} />
      </section>
    </div>
  );
}
