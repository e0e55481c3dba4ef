describe('runtime', () => {
  it('runs on the Node major the Lambda functions target (the pinned `node` devDependency)', () => {
    // Without the `node` package's install script, npm scripts fall back to the system Node silently.
    expect(process.versions.node.split('.')[0]).toBe('24');
  });
});
