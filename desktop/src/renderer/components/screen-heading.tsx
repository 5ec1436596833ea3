import type { ReactNode } from 'react';

/** The screen's h1; focusable by script so navigation can move focus to the new screen. */
export function ScreenHeading({ children }: { children: ReactNode }) {
  return (
    <h1 className="screen-heading" tabIndex={-1}>
      {children}
    </h1>
  );
}
