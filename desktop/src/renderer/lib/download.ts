/**
 * Offers text as a file download through a Blob link: the page has no file-system access, and the
 * content-security policy needs no exception for it. Returns the object URL's revoke.
 */
export function offerDownload(text: string, fileName: string, type: string): () => void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // Revoking at once can cancel the download before the browser has read the blob.
  const timer = setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return () => {
    clearTimeout(timer);
    URL.revokeObjectURL(url);
  };
}
