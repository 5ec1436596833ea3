/**
 * The application menu: the standard roles (so copy and paste work in text fields, notably on
 * macOS), window controls, and Quit. No reload or developer tools in packaged builds.
 */
import { Menu, type MenuItemConstructorOptions } from 'electron';

export function buildAppMenu(options: { devTools: boolean; showWindow(): void; quit(): void }): Menu {
  const mac = process.platform === 'darwin';
  const template: MenuItemConstructorOptions[] = [
    ...(mac ? [{ role: 'appMenu' as const }] : []),
    {
      label: '&File',
      submenu: [
        { label: 'Open RelayPACS', click: () => options.showWindow() },
        { role: 'close', label: 'Close Window' },
        { type: 'separator' },
        { label: mac ? 'Quit RelayPACS' : 'E&xit', accelerator: 'CmdOrCtrl+Q', click: () => options.quit() },
      ],
    },
    { role: 'editMenu' },
    {
      label: '&View',
      submenu: [
        ...(options.devTools ? [{ role: 'reload' as const }, { role: 'toggleDevTools' as const }, { type: 'separator' as const }] : []),
        { role: 'resetZoom' }, { role: 'zoomIn' }, { role: 'zoomOut' }, { type: 'separator' }, { role: 'togglefullscreen' },
      ],
    },
    { role: 'windowMenu' },
  ];
  return Menu.buildFromTemplate(template);
}
