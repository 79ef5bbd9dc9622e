import type { Locator, Page } from 'playwright-core';

/** The Web UI fetches the workflow through its own API after the page loads, so its widgets appear late. */
const UI_TIMEOUT_MS = 30_000;

/** The Temporal Web UI's page for one workflow, driven the way a person would: menus, dialogs, buttons. */
export class WorkflowPage {
  constructor(
    readonly page: Page,
    private readonly url: string,
  ) {}

  static async open(page: Page, uiUrl: string, workflowId: string): Promise<WorkflowPage> {
    const workflowPage = new WorkflowPage(
      page,
      `${uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`,
    );
    await workflowPage.reload();
    return workflowPage;
  }

  async reload(): Promise<void> {
    await this.page.goto(this.url);
    await this.moreActionsButton().waitFor({ timeout: UI_TIMEOUT_MS });
  }

  /**
   * Opens More Actions → Send a Signal, picks `signalName` among the signals the workflow declares and types
   * `input` as the JSON payload. Returns the dialog, filled in and not yet submitted.
   */
  async fillSignalDialog(signalName: string, input: unknown): Promise<Locator> {
    await this.moreActionsButton().click();
    await this.page.getByRole('menuitem', { name: 'Send a Signal' }).click();
    // The page renders the dialog once per layout; only the open one is visible.
    const dialog = this.page.getByTestId('signal-confirmation-modal').filter({ visible: true });
    await dialog.getByTestId('signal-select-button').filter({ visible: true }).click({ timeout: UI_TIMEOUT_MS });
    await dialog.getByRole('option', { name: signalName, exact: true }).click();
    // insertText, not typed keys: the JSON editor would close each brace and quote a second time.
    await dialog.locator('[role="textbox"][data-language="json"]').click();
    await this.page.keyboard.insertText(JSON.stringify(input));
    await dialog.getByLabel('json/plain').check();
    return dialog;
  }

  async submitSignalDialog(dialog: Locator): Promise<void> {
    await dialog.getByTestId('confirm-modal-button').click();
    await dialog.waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
  }

  /** Opens the Queries tab and runs the workflow's default query, `state` for an incident; returns the result's text. */
  async runStateQuery(): Promise<string> {
    await this.page.getByTestId('queries-tab').click();
    await this.page.getByRole('button', { name: 'Run Query' }).click({ timeout: UI_TIMEOUT_MS });
    const result = this.page.getByTestId('query-result');
    await result.getByText('"phase"').waitFor({ timeout: UI_TIMEOUT_MS });
    return result.innerText();
  }

  private moreActionsButton(): Locator {
    return this.page.getByRole('button', { name: 'More Actions' });
  }
}
